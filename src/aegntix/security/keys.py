"""API keys: ``agx_<key_id>_<secret>``, shown once, stored as the SHA-256 of the secret.

The key id is public (it names the key in lists and logs); only the secret authenticates.
Lookups are cached for a few seconds because every request authenticates; revoking a key in
this process drops it from the cache at once (another process sees it within the TTL).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
import weakref
from pathlib import Path

from aegntix.errors import InvalidRequest, KeyNotFound
from aegntix.repository import Database
from aegntix.security.key_repository import ApiKey, KeyRepository, NewKey
from aegntix.security.roles import Principal, Role
from aegntix.tenant_data import TenantData
from aegntix.timeline.schema import DEFAULT_TENANT
from aegntix.timeline.sqlstore import tenant_name

__all__ = [
    "ApiKey",
    "authenticate",
    "cached_principal",
    "create_key",
    "get_key",
    "list_keys",
    "revoke_key",
]

PREFIX = "agx"
_ID_HEX = 16
CACHE_TTL_S = 5.0
_CACHE_MAX = 10_000
_MAX_KEY_LEN = 200
_MAX_NAME = 200


def keys_of(db: Database, tenant_id: str | None) -> KeyRepository:
    """``tenant_id``'s keys (None: every tenant's, read and revoke only)."""
    return TenantData(db, tenant_id).keys


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[str, tuple[Principal, float]] = {}  # sha256(full key) -> ...


_caches: weakref.WeakKeyDictionary[Database, _Cache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def _cache(store: Database) -> _Cache:
    with _caches_lock:
        cache = _caches.get(store)
        if cache is None:
            cache = _caches[store] = _Cache()
        return cache


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _role(value: object) -> Role:
    try:
        return Role(str(value))
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise InvalidRequest(f"role: '{value}' is not one of {choices}") from None


def _mint(
    keys: KeyRepository, role: Role, name: str, *, only_if_none: bool = False
) -> tuple[str, str] | None:
    """Store a new key: ``(key_id, key)``, or None if ``only_if_none`` and one exists."""
    secret = secrets.token_urlsafe(32)
    while True:
        key_id = secrets.token_hex(_ID_HEX // 2)
        if keys.add(NewKey(key_id, role, name, _digest(secret)), only_if_none=only_if_none):
            return key_id, f"{PREFIX}_{key_id}_{secret}"
        if only_if_none:  # refused: the database holds a key (even a clashing id is one)
            return None


def create_key(
    store: Database, tenant_id: str, role: Role | str, name: str = ""
) -> tuple[str, str]:
    """Mint a key; returns ``(key_id, key)``. The key is not stored and cannot be shown
    again. Creates the tenant if it does not exist yet."""
    tenant_name(tenant_id)
    checked = _role(role)
    if not isinstance(name, str) or len(name) > _MAX_NAME:
        raise InvalidRequest(f"name: at most {_MAX_NAME} characters")
    minted = _mint(keys_of(store, tenant_id), checked, name or f"{checked.value} key")
    assert minted is not None  # an id clash is retried; nothing else refuses a key
    return minted


def _parse(key: str) -> tuple[str, str] | None:
    if not isinstance(key, str) or len(key) > _MAX_KEY_LEN:
        return None
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    key_id, secret = parts[1], parts[2]
    if len(key_id) != _ID_HEX or any(c not in "0123456789abcdef" for c in key_id) or not secret:
        return None
    return key_id, secret


def cached_principal(store: Database, key: str) -> Principal | None:
    """The principal of ``key`` if this process verified it within the last
    :data:`CACHE_TTL_S` seconds (no I/O: callable on an event loop), else None."""
    if not isinstance(key, str) or len(key) > _MAX_KEY_LEN:
        return None
    cache = _cache(store)
    token = _digest(key)
    with cache.lock:
        hit = cache.entries.get(token)
    return hit[0] if hit is not None and hit[1] > time.monotonic() else None


def authenticate(store: Database, key: str) -> Principal | None:
    """The principal of an active key, or None (malformed, unknown, wrong secret, revoked)."""
    parsed = _parse(key)
    if parsed is None:
        return None
    key_id, secret = parsed
    cache = _cache(store)
    token = _digest(key)
    now = time.monotonic()
    with cache.lock:
        hit = cache.entries.get(token)
    if hit is not None and hit[1] > now:
        return hit[0]
    found = keys_of(store, None).active(key_id)
    if found is None or not hmac.compare_digest(found.secret_hash, _digest(secret)):
        return None
    principal = Principal(found.tenant_id, found.role, key_id)
    with cache.lock:
        if len(cache.entries) >= _CACHE_MAX:
            cache.entries.clear()
        cache.entries[token] = (principal, now + CACHE_TTL_S)
    return principal


def list_keys(store: Database, tenant_id: str | None = None) -> list[ApiKey]:
    """Keys (active and revoked) of one tenant, or of all tenants; oldest first."""
    return keys_of(store, tenant_id).list_keys()


def get_key(store: Database, key_id: str, tenant_id: str | None = None) -> ApiKey:
    """Raises ``KeyNotFound`` (also for another tenant's key when ``tenant_id`` is given)."""
    key = keys_of(store, tenant_id).get(key_id)
    if key is None:
        raise KeyNotFound(f"no API key '{key_id}'")
    return key


def revoke_key(store: Database, key_id: str, tenant_id: str | None = None) -> ApiKey:
    """Revoke a key (idempotent); raises ``KeyNotFound``. Takes effect at once here."""
    keys = keys_of(store, tenant_id)
    if get_key(store, key_id, tenant_id).active:
        keys.revoke(key_id)
    key = get_key(store, key_id, tenant_id)
    cache = _cache(store)
    with cache.lock:
        for token, (principal, _) in list(cache.entries.items()):
            if principal.key_id == key_id:
                del cache.entries[token]
    return key


def ensure_bootstrap_key(store: Database, key_file: Path) -> str | None:
    """If the database has no API key at all, mint an owner key of tenant ``default``, save
    it to ``key_file`` (mode 0600, created so, never widened) and return it; else None.
    The check and the insert are one transaction, so two servers starting at once mint one."""
    keys = keys_of(store, DEFAULT_TENANT)
    created = _mint(keys, Role.OWNER, "bootstrap owner key", only_if_none=True)
    if created is None:
        return None
    key = created[1]
    key_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = key_file.with_name(f".{key_file.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (key + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, key_file)
    return key
