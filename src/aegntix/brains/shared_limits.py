"""Provider limits that hold across processes: kept in the timeline's PostgreSQL database.

Why PostgreSQL and not Redis: it is already there (the timeline's database is the one
stateful system a scaled-out deployment runs), a call to a model takes hundreds of
milliseconds, and taking a slot costs one round trip of about a millisecond. Redis would save
a fraction of that millisecond and add a second system to run. See ``docs/observability.md``.

Two tables (migration 0009):

- ``llm_slots (endpoint, slot, holder, expires_at)``: a call holds one of ``concurrency``
  slots. It takes a free one (missing, or expired) with one ``INSERT … ON CONFLICT DO UPDATE
  … WHERE expired``: of two processes racing for a slot exactly one gets it. A process renews
  the slots it holds every third of their TTL (one ``UPDATE`` for all of them, from a
  thread); a killed process stops renewing and its slots expire (``AEGNTIX_LLM_SLOT_SECONDS``,
  default 30), so nothing is held forever.
- ``llm_rates (endpoint, tat)``: the rate limit as GCRA (a token bucket kept as one number,
  the "theoretical arrival time"). Each call *reserves* a start time: ``tat := max(tat,
  now) + 60/rpm``, and starts at ``max(now, tat - burst·60/rpm)``. The reservation is made in
  the same statement that takes the slot (a call that gets no slot reserves nothing), with the
  database's clock, so machines with skewed clocks still agree.

So taking a slot and a start time is one statement in autocommit: one round trip; releasing
is one more, sent from a background thread (off the caller's path). Waiting for a slot
polls with backoff (5 ms doubling to 100 ms, kept per process and endpoint so that no process
polls faster than the others just because it freed a slot); at most ``concurrency`` callers
per process poll, the others wait on an in-process semaphore first. Not FIFO across
processes: a slot goes to whichever poller asks first after it frees.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import random
import secrets
import socket
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy import exc as sa_exc

from aegntix.brains.limits import LOCAL, Gate, LimitBackend, Limits
from aegntix.repository import database_of
from aegntix.timeline.dberrors import db_error
from aegntix.timeline.store import Store

T = TypeVar("T")

#: Selects the backend: ``shared`` (the default on PostgreSQL) or ``local`` (per process).
MODE_ENV = "AEGNTIX_LLM_LIMITS"
#: Seconds a slot lasts without renewal (a killed process frees its slots after this).
TTL_ENV = "AEGNTIX_LLM_SLOT_SECONDS"
DEFAULT_TTL = 30.0
#: Connections this process keeps for limits (beside the store's pool).
POOL_SIZE = 2
_POLL_FIRST, _POLL_MAX = 0.005, 0.1

_TAKE = text(
    """
WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now),
free AS (
    SELECT s.n AS slot FROM clock, generate_series(0, :concurrency - 1) AS s(n)
    WHERE NOT EXISTS (
        SELECT 1 FROM llm_slots l
        WHERE l.endpoint = :endpoint AND l.slot = s.n AND l.expires_at > clock.now)
    ORDER BY random() LIMIT 1
),
taken AS (
    INSERT INTO llm_slots (endpoint, slot, holder, expires_at)
    SELECT :endpoint, free.slot, :holder, clock.now + :ttl FROM free, clock
    ON CONFLICT (endpoint, slot) DO UPDATE
        SET holder = excluded.holder, expires_at = excluded.expires_at
        WHERE llm_slots.expires_at <= excluded.expires_at - :ttl
    RETURNING slot
),
rate AS (
    INSERT INTO llm_rates (endpoint, tat)
    SELECT :endpoint, clock.now + :interval FROM taken, clock WHERE :interval > 0
    ON CONFLICT (endpoint) DO UPDATE
        SET tat = GREATEST(llm_rates.tat, excluded.tat - :interval) + :interval
    RETURNING tat
)
SELECT (SELECT slot FROM taken), (SELECT tat FROM rate), (SELECT now FROM clock)
"""
)
_RELEASE = text(
    "DELETE FROM llm_slots WHERE endpoint = :endpoint AND slot = :slot AND holder = :holder"
)
_RENEW = text(
    "UPDATE llm_slots SET expires_at = extract(epoch FROM clock_timestamp())::float8 + :ttl "
    "WHERE holder = :holder"
)


def _no_fsync(dbapi_connection: Any, _record: Any) -> None:
    """Limits rows need no durable commit: a database crash loses at most slots (they would
    expire) and a few rate reservations. Without the fsync a statement is a round trip, not
    a disk flush (one caller: p50 7.1 → 1.0 ms, benchmarks/observability.py)."""
    before = dbapi_connection.autocommit
    dbapi_connection.autocommit = True  # a SET inside a transaction would be rolled back
    dbapi_connection.execute("SET synchronous_commit TO off")
    dbapi_connection.autocommit = before


def slot_ttl() -> float:
    try:
        value = float(os.environ.get(TTL_ENV, ""))
    except ValueError:
        return DEFAULT_TTL
    return value if 0.5 <= value <= 3600 else DEFAULT_TTL


def endpoint_digest(endpoint: str) -> str:
    """The stored name of an endpoint: its key (kind, URL, key fingerprint) hashed."""
    return hashlib.sha256(endpoint.encode()).hexdigest()


class SqlLimits:
    """A :class:`~aegntix.brains.limits.LimitBackend` in a PostgreSQL database."""

    def __init__(self, engine: Engine, *, ttl: float | None = None) -> None:
        # Its own small pool in autocommit, without pre-ping: each statement is one round
        # trip. A connection the server dropped fails once and is replaced (_run retries).
        self._engine = create_engine(
            engine.url,
            pool_size=POOL_SIZE,
            max_overflow=POOL_SIZE,
            isolation_level="AUTOCOMMIT",
        )
        event.listen(self._engine, "connect", _no_fsync)
        self.name = f"sql:{id(self)}"
        self.ttl = ttl if ttl is not None else slot_ttl()
        self.holder = f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(6)}"
        self._pool = ThreadPoolExecutor(POOL_SIZE * 2, thread_name_prefix="aegntix-limits")
        self._held = 0
        self._lock = threading.Lock()
        self._keeper: threading.Thread | None = None
        self._stop = threading.Event()

    def gate(self, endpoint: str, limits: Limits) -> Gate:
        return SharedGate(self, endpoint_digest(endpoint), limits)

    # -- statements (in the pool's threads) ------------------------------------------------
    def _run(self, fn: Callable[[Any], T]) -> T:
        for attempt in range(2):
            try:
                with self._engine.connect() as conn:
                    return fn(conn)
            except sa_exc.DBAPIError as exc:
                if attempt == 0 and exc.connection_invalidated:
                    continue  # a dropped connection: once more on a fresh one
                raise db_error(exc) from None  # one line, no SQL (dberrors)
        raise AssertionError("unreachable")  # pragma: no cover

    def take(self, endpoint: str, limits: Limits) -> tuple[int | None, float]:
        """A slot (None: all taken) and the seconds to wait before starting."""
        interval = 60.0 / limits.per_minute if limits.per_minute else 0.0
        params = {
            "endpoint": endpoint,
            "concurrency": limits.concurrency,
            "holder": self.holder,
            "ttl": self.ttl,
            "interval": interval,
        }
        slot, tat, now = self._run(lambda conn: conn.execute(_TAKE, params).one())
        if slot is None:
            return None, 0.0
        self._hold(+1)
        wait = 0.0 if tat is None else max(0.0, float(tat) - limits.burst * interval - float(now))
        return int(slot), wait

    def release(self, endpoint: str, slot: int) -> None:
        params = {"endpoint": endpoint, "slot": slot, "holder": self.holder}
        try:
            self._run(lambda conn: conn.execute(_RELEASE, params))
        finally:
            self._hold(-1)  # not released (database down): it expires

    # -- keeping held slots alive ----------------------------------------------------------
    def _hold(self, delta: int) -> None:
        with self._lock:
            self._held += delta
            if self._keeper is None and self._held > 0:
                self._keeper = threading.Thread(
                    target=self._keep, name="aegntix-limits-keeper", daemon=True
                )
                self._keeper.start()

    def _keep(self) -> None:
        params = {"holder": self.holder, "ttl": self.ttl}
        while not self._stop.wait(self.ttl / 3):
            if self._held > 0:
                with contextlib.suppress(Exception):  # a missed renewal: the next one, or expiry
                    self._run(lambda conn: conn.execute(_RENEW, params))

    def close(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True)
        self._engine.dispose()


class SharedGate:
    """One endpoint's shared limits in one event loop."""

    def __init__(self, backend: SqlLimits, endpoint: str, limits: Limits) -> None:
        self.backend = backend
        self.endpoint = endpoint
        self.limits = limits
        # Callers beyond the limit wait here rather than polling the database.
        self._local = asyncio.Semaphore(limits.concurrency)
        # The poll interval is the gate's, not each caller's: a caller that just freed a
        # slot and its next local caller would otherwise poll from 5 ms while other
        # processes' callers sit at 100 ms, and one process could keep the slots to itself.
        self._delay = _POLL_FIRST

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        async with self._local:
            slot, wait = await self._take()
            try:
                if wait > 0:
                    await asyncio.sleep(wait)
                yield
            finally:
                # In the background: the caller goes on (and a cancelled caller still frees
                # its slot: the executor runs it whatever happens to the task).
                self.backend._pool.submit(self.backend.release, self.endpoint, slot)

    async def _take(self) -> tuple[int, float]:
        while True:
            taking = self.backend._pool.submit(self.backend.take, self.endpoint, self.limits)
            try:
                slot, wait = await asyncio.wrap_future(taking)
            except asyncio.CancelledError:
                # The statement may still run (or have run) in its thread: give back what it
                # takes, or the keeper would renew that slot for as long as we live.
                taking.add_done_callback(self._give_back)
                raise
            if slot is not None:
                self._delay = max(_POLL_FIRST, self._delay / 2)  # eases off, never resets
                return slot, wait
            await asyncio.sleep(self._delay * (0.5 + random.random()))  # timing only
            self._delay = min(_POLL_MAX, self._delay * 2)

    def _give_back(self, taking: Future[tuple[int | None, float]]) -> None:
        if taking.cancelled() or taking.exception() is not None:
            return
        slot, _ = taking.result()
        if slot is not None:
            self.backend._pool.submit(self.backend.release, self.endpoint, slot)


_backends: dict[str, SqlLimits] = {}
_backends_lock = threading.Lock()


def limits_for(store: Store | None) -> LimitBackend:
    """The limits backend for brains running on ``store``: shared in the database when it is
    PostgreSQL (unless ``AEGNTIX_LLM_LIMITS=local``), else per process."""
    database = database_of(store)
    if database is None or os.environ.get(MODE_ENV, "shared").strip().lower() == "local":
        return LOCAL
    engine = database.engine
    if engine.dialect.name != "postgresql":
        return LOCAL
    key = engine.url.render_as_string(hide_password=False)
    with _backends_lock:
        backend = _backends.get(key)
        if backend is None:
            backend = _backends[key] = SqlLimits(engine)
        return backend
