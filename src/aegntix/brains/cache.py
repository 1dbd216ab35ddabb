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
from collections.abc import Iterable
from typing import Any

from aegntix.brains.replies import CachedReply, PaidCall, Payer, ReplyRepository
from aegntix.model.events import Event, EventKind, canonical_json
from aegntix.repository import Database, database_of
from aegntix.tenant_data import TenantData
from aegntix.timeline.store import Store

__all__ = ["CachedReply", "Payer", "RecordedReplies", "ResponseCache", "cache_for"]

DEFAULT_CAPACITY = 20_000


def request_digest(provider: str, request: dict[str, Any], endpoint: str | None = None) -> str:
    """The cache key: provider, endpoint, model, messages and parameters, canonically hashed.
    ``endpoint`` None (the provider's default) keeps the key of an endpoint-less request."""
    key: dict[str, Any] = {"provider": provider, "request": request}
    if endpoint is not None:
        key["endpoint"] = endpoint.rstrip("/")
    body = canonical_json(key)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


class ResponseCache:
    """Thread-safe. ``database``: where the rows live (each tenant's through its own
    :class:`ReplyRepository`), or None for a memory-only cache."""

    def __init__(
        self, database: Database | None = None, *, capacity: int = DEFAULT_CAPACITY
    ) -> None:
        # Weak: the process-wide table of caches is keyed by the database (see cache_for).
        self._database = weakref.ref(database) if database is not None else None
        self.capacity = capacity
        self._lru: OrderedDict[tuple[str, str], CachedReply] = OrderedDict()
        self._lock = threading.Lock()
        self.memory_hits = self.db_hits = self.misses = 0

    @property
    def persistent(self) -> bool:
        """Whether :meth:`put` writes to a database (and so blocks)."""
        return self._database is not None

    def rows(self, tenant_id: str) -> ReplyRepository | None:
        """``tenant_id``'s rows, or None (memory only, or the database is gone)."""
        database = self._database() if self._database is not None else None
        return None if database is None else TenantData(database, tenant_id).replies

    def get(self, tenant_id: str, key: str) -> CachedReply | None:
        """Memory first, then the database (which then fills memory)."""
        slot = (tenant_id, key)
        with self._lock:
            hit = self._lru.get(slot)
            if hit is not None:
                self._lru.move_to_end(slot)
                self.memory_hits += 1
                return hit
        rows = self.rows(tenant_id)
        hit = rows.find(key) if rows is not None else None
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
        """Write the row unless the key has one (blocks until committed: call it off the
        event loop)."""
        rows = self.rows(payer.tenant_id)
        if rows is not None:
            rows.add(key, PaidCall(provider, model, reply, cost), payer)


_caches: weakref.WeakKeyDictionary[Database, ResponseCache] = weakref.WeakKeyDictionary()
_memory_only = ResponseCache(None)
_caches_lock = threading.Lock()


def cache_for(store: Store | None) -> ResponseCache:
    """The process's cache for ``store``'s database (memory-only without one)."""
    database = database_of(store)
    if database is None:
        return _memory_only
    with _caches_lock:
        cache = _caches.get(database)
        if cache is None:
            cache = _caches[database] = ResponseCache(database)
        return cache


def _collect(events: Iterable[Event], into: dict[str, CachedReply]) -> None:
    for event in events:
        if event.kind != EventKind.DECISION:
            continue
        for call in event.payload.get("calls", ()):
            into[call["digest"]] = CachedReply(
                str(call["reply"]), int(call["tokens_in"]), int(call["tokens_out"])
            )


def recorded_replies(store: Store, branch_id: str) -> dict[str, CachedReply]:
    """Every reply recorded in the ``decision`` events of a branch's timeline, by digest."""
    found: dict[str, CachedReply] = {}
    _collect(store.events(branch_id), found)
    return found


def scenario_replies(store: Store, scenario_id: str) -> dict[str, CachedReply]:
    """Every reply recorded in any branch of a scenario (each branch's own events once)."""
    found: dict[str, CachedReply] = {}
    for branch in store.list_branches(scenario_id):
        _collect(store.events(branch.id, from_seq=branch.fork_seq + 1), found)
    return found


class RecordedReplies:
    """The timeline as the cache's last tier, for one run: the first miss loads the replies
    recorded anywhere in the scenario into the memory tier, once (a miss after that is a
    prompt nobody asked yet). Shared by a runner's brains; thread-safe."""

    def __init__(self, store: Store, scenario_id: str, tenant_id: str, cache: ResponseCache):
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


def warm_from_events(store: Store, branch_id: str, *, into: Store | None = None) -> int:
    """Put a branch's recorded replies in memory — of ``store``'s cache, or of ``into``'s
    (another database) — so re-running the branch (a fork at step 0, a new root with its
    seed) needs neither the provider nor the cache table. Returns how many replies."""
    tenant = store.get_branch(branch_id).tenant_id
    cache = cache_for(store if into is None else into)
    replies = recorded_replies(store, branch_id)
    for key, reply in replies.items():
        cache.remember(tenant, key, reply)
    return len(replies)
