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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, func, insert, select, update

from aegntix.errors import InvalidRequest, KeyNotFound
from aegntix.security.roles import Principal, Role
from aegntix.timeline.schema import DEFAULT_TENANT, api_keys, tenants
from aegntix.timeline.sqlstore import SqlStore, tenant_name

PREFIX = "agx"
_ID_HEX = 16
CACHE_TTL_S = 5.0
_CACHE_MAX = 10_000
_MAX_KEY_LEN = 200
_MAX_NAME = 200


@dataclass(frozen=True)
class ApiKey:
    """A key as listed: never its secret."""

    id: str
    tenant_id: str
    role: Role
    name: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[str, tuple[Principal, float]] = {}  # sha256(full key) -> ...


_caches: weakref.WeakKeyDictionary[SqlStore, _Cache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def _cache(store: SqlStore) -> _Cache:
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


def _ensure_tenant(conn: Connection, tenant_id: str, now: datetime) -> None:
    found = conn.execute(select(tenants.c.id).where(tenants.c.id == tenant_id)).first()
    if found is None:
        conn.execute(insert(tenants).values(id=tenant_id, name=tenant_id, created_at=now))


def _insert_key(conn: Connection, tenant_id: str, role: Role, name: str) -> tuple[str, str]:
    now = datetime.now(UTC)
    _ensure_tenant(conn, tenant_id, now)
    while True:
        key_id = secrets.token_hex(_ID_HEX // 2)
        taken = conn.execute(select(api_keys.c.id).where(api_keys.c.id == key_id)).first()
        if taken is None:
            break
    secret = secrets.token_urlsafe(32)
    conn.execute(
        insert(api_keys).values(
            id=key_id,
            tenant_id=tenant_id,
            role=role.value,
            name=name,
            secret_hash=_digest(secret),
            created_at=now,
            revoked_at=None,
        )
    )
    return key_id, f"{PREFIX}_{key_id}_{secret}"


def create_key(
    store: SqlStore, tenant_id: str, role: Role | str, name: str = ""
) -> tuple[str, str]:
    """Mint a key; returns ``(key_id, key)``. The key is not stored and cannot be shown
    again. Creates the tenant if it does not exist yet."""
    tenant_name(tenant_id)
    checked = _role(role)
    if not isinstance(name, str) or len(name) > _MAX_NAME:
        raise InvalidRequest(f"name: at most {_MAX_NAME} characters")
    label = name or f"{checked.value} key"
    return store.write(lambda c: _insert_key(c, tenant_id, checked, label))


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


def authenticate(store: SqlStore, key: str) -> Principal | None:
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
    query = select(api_keys.c.tenant_id, api_keys.c.role, api_keys.c.secret_hash).where(
        api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)
    )
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None or not hmac.compare_digest(row.secret_hash, _digest(secret)):
        return None
    principal = Principal(row.tenant_id, Role(row.role), key_id)
    with cache.lock:
        if len(cache.entries) >= _CACHE_MAX:
            cache.entries.clear()
        cache.entries[token] = (principal, now + CACHE_TTL_S)
    return principal


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _to_key(row: object) -> ApiKey:
    m = row._mapping  # type: ignore[attr-defined]
    created = _aware(m["created_at"])
    assert created is not None
    return ApiKey(
        m["id"], m["tenant_id"], Role(m["role"]), m["name"], created, _aware(m["revoked_at"])
    )


_KEY_COLUMNS = (
    api_keys.c.id,
    api_keys.c.tenant_id,
    api_keys.c.role,
    api_keys.c.name,
    api_keys.c.created_at,
    api_keys.c.revoked_at,
)


def list_keys(store: SqlStore, tenant_id: str | None = None) -> list[ApiKey]:
    """Keys (active and revoked) of one tenant, or of all tenants; oldest first."""
    query = select(*_KEY_COLUMNS).order_by(api_keys.c.created_at, api_keys.c.id)
    if tenant_id is not None:
        query = query.where(api_keys.c.tenant_id == tenant_id)
    with store.engine.connect() as conn:
        return [_to_key(r) for r in conn.execute(query)]


def get_key(store: SqlStore, key_id: str, tenant_id: str | None = None) -> ApiKey:
    """Raises ``KeyNotFound`` (also for another tenant's key when ``tenant_id`` is given)."""
    query = select(*_KEY_COLUMNS).where(api_keys.c.id == key_id)
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None or (tenant_id is not None and row.tenant_id != tenant_id):
        raise KeyNotFound(f"no API key '{key_id}'")
    return _to_key(row)


def revoke_key(store: SqlStore, key_id: str, tenant_id: str | None = None) -> ApiKey:
    """Revoke a key (idempotent); raises ``KeyNotFound``. Takes effect at once here."""
    key = get_key(store, key_id, tenant_id)
    if key.active:
        now = datetime.now(UTC)
        stmt = (
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        store.write(lambda c: c.execute(stmt))
        key = get_key(store, key_id, tenant_id)
    cache = _cache(store)
    with cache.lock:
        for token, (principal, _) in list(cache.entries.items()):
            if principal.key_id == key_id:
                del cache.entries[token]
    return key


def _bootstrap(conn: Connection) -> tuple[str, str] | None:
    count = conn.execute(select(func.count()).select_from(api_keys)).scalar_one()
    if count:
        return None
    return _insert_key(conn, DEFAULT_TENANT, Role.OWNER, "bootstrap owner key")


def ensure_bootstrap_key(store: SqlStore, key_file: Path) -> str | None:
    """If the database has no API key at all, mint an owner key of tenant ``default``, save
    it to ``key_file`` (mode 0600, created so, never widened) and return it; else None.
    The check and the insert are one transaction, so two servers starting at once mint one."""
    created = store.write(_bootstrap)
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
