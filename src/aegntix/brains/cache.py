"""The response cache: model replies by request digest, so the same prompt is never paid for
twice — a fork with no intervention, a re-run, a resumed step all read it.

Two tiers: an in-memory LRU (a hit costs a dict lookup) in front of the ``llm_cache`` table
(tenant-scoped: the key is ``(tenant_id, digest)``; rows survive restarts). A row is written
once, by the call that paid for the reply, and names the scenario, branch and agent that
made it, so the table doubles as the ledger of provider spend (``accounting``).

The digest is SHA-256 of the canonical JSON of (provider, endpoint, request): the request
holds the model, the messages and every parameter that changes the reply; the endpoint
(``base_url``) is there because two servers may serve different weights under one model name.

Behind both tiers sits the timeline itself: on a miss, :class:`RecordedReplies` loads (once
per run) every reply recorded in the scenario's ``decision`` events, so a branch re-runs
without the cache table (a purged cache, an imported timeline) and still makes no calls.
``warm_from_events`` does the same explicitly for one branch, also into another database.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, select

from aegntix.model.events import EventKind, canonical_json
from aegntix.timeline.schema import DEFAULT_TENANT, llm_cache

DEFAULT_CAPACITY = 20_000


@dataclass(frozen=True, slots=True)
class CachedReply:
    text: str
    tokens_in: int
    tokens_out: int


@dataclass(frozen=True, slots=True)
class Payer:
    """Who made a call: the cache row and the spend ledger name them."""

    tenant_id: str = DEFAULT_TENANT
    scenario_id: str | None = None
    branch_id: str | None = None
    agent_id: str | None = None


def request_digest(provider: str, request: dict[str, Any], endpoint: str | None = None) -> str:
    """The cache key: provider, endpoint, model, messages and parameters, canonically hashed.
    ``endpoint`` None (the provider's default) keeps the key of an endpoint-less request."""
    key: dict[str, Any] = {"provider": provider, "request": request}
    if endpoint is not None:
        key["endpoint"] = endpoint.rstrip("/")
    body = canonical_json(key)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


class ResponseCache:
    """Thread-safe. ``backend``: a store with ``engine`` and ``write`` (``SqlStore``), or
    None for a memory-only cache."""

    def __init__(self, backend: Any | None = None, *, capacity: int = DEFAULT_CAPACITY) -> None:
        # Weak: the process-wide table of caches is keyed by the store (see cache_for).
        self._backend = weakref.ref(backend) if backend is not None else None
        self._engine: Engine | None = getattr(backend, "engine", None)
        self.capacity = capacity
        self._lru: OrderedDict[tuple[str, str], CachedReply] = OrderedDict()
        self._lock = threading.Lock()
        self.memory_hits = self.db_hits = self.misses = 0

    @property
    def persistent(self) -> bool:
        """Whether :meth:`put` writes to a database (and so blocks)."""
        return self._backend is not None

    def get(self, tenant_id: str, key: str) -> CachedReply | None:
        """Memory first, then the database (which then fills memory)."""
        slot = (tenant_id, key)
        with self._lock:
            hit = self._lru.get(slot)
            if hit is not None:
                self._lru.move_to_end(slot)
                self.memory_hits += 1
                return hit
        hit = self._read(tenant_id, key)
        if hit is None:
            self.misses += 1
            return None
        self.db_hits += 1
        self.remember(tenant_id, key, hit)
        return hit

    def remember(self, tenant_id: str, key: str, reply: CachedReply) -> None:
        """Memory only (the database row, if any, is written by :meth:`put`)."""
        with self._lock:
            self._lru[(tenant_id, key)] = reply
            self._lru.move_to_end((tenant_id, key))
            while len(self._lru) > self.capacity:
                self._lru.popitem(last=False)

    def forget_memory(self) -> None:
        with self._lock:
            self._lru.clear()

    def put(
        self, payer: Payer, key: str, provider: str, model: str, reply: CachedReply, cost: float
    ) -> None:
        """Remember a reply that was just paid for, in memory and in the database."""
        self.remember(payer.tenant_id, key, reply)
        self.persist(payer, key, provider, model, reply, cost)

    def persist(
        self, payer: Payer, key: str, provider: str, model: str, reply: CachedReply, cost: float
    ) -> None:
        """Write the row (blocks until committed: call it off the event loop)."""
        backend = self._backend() if self._backend is not None else None
        if backend is None:
            return
        row = {
            "tenant_id": payer.tenant_id,
            "key": key,
            "provider": provider,
            "model": model,
            "reply": reply.text,
            "tokens_in": reply.tokens_in,
            "tokens_out": reply.tokens_out,
            "cost": cost,
            "scenario_id": payer.scenario_id,
            "branch_id": payer.branch_id,
            "agent_id": payer.agent_id,
            "created_at": datetime.now(UTC),
        }

        def write(conn: Connection) -> None:
            # One writer thread: check-then-insert cannot race within this process, and
            # SQLite's BEGIN IMMEDIATE serializes it against other processes.
            if conn.execute(_exists(payer.tenant_id, key)).first() is None:
                conn.execute(insert(llm_cache).values(**row))

        backend.write(write)

    def _read(self, tenant_id: str, key: str) -> CachedReply | None:
        if self._engine is None:
            return None
        query = select(llm_cache.c.reply, llm_cache.c.tokens_in, llm_cache.c.tokens_out).where(
            and_(llm_cache.c.tenant_id == tenant_id, llm_cache.c.key == key)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else CachedReply(row[0], int(row[1]), int(row[2]))


def _exists(tenant_id: str, key: str) -> Any:
    return select(llm_cache.c.key).where(
        and_(llm_cache.c.tenant_id == tenant_id, llm_cache.c.key == key)
    )


_caches: weakref.WeakKeyDictionary[Any, ResponseCache] = weakref.WeakKeyDictionary()
_memory_only = ResponseCache(None)
_caches_lock = threading.Lock()


def sql_backend(store: Any) -> Any | None:
    """The SQL store under ``store`` (a ``TenantStore`` wraps one), or None."""
    backend = getattr(store, "backend", store)
    return backend if hasattr(backend, "engine") and hasattr(backend, "write") else None


def cache_for(store: Any | None) -> ResponseCache:
    """The process's cache for ``store``'s database (memory-only without one)."""
    backend = sql_backend(store) if store is not None else None
    if backend is None:
        return _memory_only
    with _caches_lock:
        cache = _caches.get(backend)
        if cache is None:
            cache = _caches[backend] = ResponseCache(backend)
        return cache


def _collect(events: Any, into: dict[str, CachedReply]) -> None:
    for event in events:
        if event.kind != EventKind.DECISION:
            continue
        for call in event.payload.get("calls", ()):
            into[call["digest"]] = CachedReply(
                str(call["reply"]), int(call["tokens_in"]), int(call["tokens_out"])
            )


def recorded_replies(store: Any, branch_id: str) -> dict[str, CachedReply]:
    """Every reply recorded in the ``decision`` events of a branch's timeline, by digest."""
    found: dict[str, CachedReply] = {}
    _collect(store.events(branch_id), found)
    return found


def scenario_replies(store: Any, scenario_id: str) -> dict[str, CachedReply]:
    """Every reply recorded in any branch of a scenario (each branch's own events once)."""
    found: dict[str, CachedReply] = {}
    for branch in store.list_branches(scenario_id):
        _collect(store.events(branch.id, from_seq=branch.fork_seq + 1), found)
    return found


class RecordedReplies:
    """The timeline as the cache's last tier, for one run: the first miss loads the replies
    recorded anywhere in the scenario into the memory tier, once (a miss after that is a
    prompt nobody asked yet). Shared by a runner's brains; thread-safe."""

    def __init__(self, store: Any, scenario_id: str, tenant_id: str, cache: ResponseCache):
        self.store = store
        self.scenario_id = scenario_id
        self.tenant_id = tenant_id
        self.cache = cache
        self._loaded = False
        self._lock = threading.Lock()

    def lookup(self, key: str) -> CachedReply | None:
        """Blocking (reads the database): call it off the event loop."""
        with self._lock:
            if not self._loaded:
                self._loaded = True
                for digest, reply in scenario_replies(self.store, self.scenario_id).items():
                    self.cache.remember(self.tenant_id, digest, reply)
        return self.cache.get(self.tenant_id, key)

    @property
    def loaded(self) -> bool:
        return self._loaded


def warm_from_events(store: Any, branch_id: str, *, into: Any | None = None) -> int:
    """Put a branch's recorded replies in memory — of ``store``'s cache, or of ``into``'s
    (another database) — so re-running the branch (a fork at step 0, a new root with its
    seed) needs neither the provider nor the cache table. Returns how many replies."""
    tenant = store.get_branch(branch_id).tenant_id
    cache = cache_for(store if into is None else into)
    replies = recorded_replies(store, branch_id)
    for key, reply in replies.items():
        cache.remember(tenant, key, reply)
    return len(replies)
