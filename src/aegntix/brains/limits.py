"""Talking to a provider politely: a concurrency limit and a rate limit per provider,
exponential backoff with jitter, ``Retry-After``.

Limits are per *provider endpoint* (kind + base URL + key) and take the values of the first
config that uses them. Where they are kept is a :class:`LimitBackend`:

- :class:`LocalLimits` (the default; SQLite): an asyncio semaphore and a token bucket per
  event loop, shared by every agent and branch in that loop;
- ``SqlLimits`` (``shared_limits.py``; PostgreSQL): slots and a rate row in the timeline's
  database, so the limits hold across every process and machine using it.

HTTP clients belong to one event loop, so each loop gets its own :class:`ProviderRuntime`.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hashlib
import random
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from aegntix.model.scenario import BrainConfig

#: Never wait longer than this for one retry, whatever a server asks.
MAX_DELAY_S = 120.0
_jitter = random.Random()  # timing only; decisions never see it (they use the engine's rng)


class TokenBucket:
    """``rate`` requests per second on average, bursts of up to ``burst``; FIFO waiters."""

    def __init__(self, per_minute: float, burst: float | None = None) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, burst if burst is not None else default_burst(per_minute))
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def take(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                await asyncio.sleep((1.0 - self._tokens) / self.rate)


def default_burst(per_minute: float) -> float:
    """Requests that may start at once: a second's worth, at least one."""
    return max(1.0, per_minute / 60.0)


@dataclass(frozen=True, slots=True)
class Limits:
    """One endpoint's limits: calls in flight, and (optionally) starts per minute with bursts
    of up to ``burst``."""

    concurrency: int
    per_minute: float | None = None

    @classmethod
    def of(cls, config: BrainConfig) -> Limits:
        return cls(config.concurrency, config.requests_per_minute)

    @property
    def burst(self) -> float:
        return default_burst(self.per_minute) if self.per_minute else 1.0


class Gate(Protocol):
    """One endpoint's limits in one event loop."""

    def hold(self) -> AbstractAsyncContextManager[None]:
        """Wait for a concurrency slot, then for the rate limit; the slot is held until the
        block exits. The call starts right inside the block (a rate limit counts starts)."""
        ...


class LimitBackend(Protocol):
    """Where providers' limits are kept (see the module docstring)."""

    #: Tells runtimes of different backends apart (one process may use two databases).
    name: str

    def gate(self, endpoint: str, limits: Limits) -> Gate:
        """The gate of ``endpoint`` for the running event loop (called once per loop)."""
        ...


class LocalGate:
    """In-process limits: a semaphore and a token bucket."""

    def __init__(self, limits: Limits) -> None:
        self.slots = asyncio.Semaphore(limits.concurrency)
        rpm = limits.per_minute
        self.bucket = TokenBucket(rpm, limits.burst) if rpm else None

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        async with self.slots:
            if self.bucket is not None:
                await self.bucket.take()
            yield


class LocalLimits:
    """:class:`LimitBackend` of one process (each event loop its own)."""

    name = "local"

    def gate(self, endpoint: str, limits: Limits) -> Gate:
        return LocalGate(limits)


LOCAL = LocalLimits()


#: Connections per HTTP client. An SDK's connection pool scans every pooled connection (a
#: socket query each) whenever a request takes or returns one, so one client holding 100
#: connections costs O(100) per request; several small clients keep that constant.
CONNECTIONS_PER_CLIENT = 16


@dataclass
class ProviderRuntime:
    """One provider endpoint in one event loop: its clients and its limits."""

    clients: list[Any]
    gate: Gate
    inflight: dict[str, asyncio.Future[Any]] = field(default_factory=dict)
    _turn: int = 0

    def next_client(self) -> Any:
        """The clients in turn: requests spread over their pools."""
        self._turn = (self._turn + 1) % len(self.clients)
        return self.clients[self._turn]


@dataclass
class _LoopState:
    runtimes: dict[str, ProviderRuntime]
    closer: AsyncGenerator[None, None]


_loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
    weakref.WeakKeyDictionary()
)


async def _close_clients_at_shutdown(
    runtimes: dict[str, ProviderRuntime],
) -> AsyncGenerator[None, None]:
    # An async generator parked at its yield: ``asyncio.run`` (and any loop owner calling
    # ``shutdown_asyncgens``) closes it before closing the loop, so the HTTP clients close
    # their connections in the loop that opened them.
    try:
        yield
    finally:
        for runtime in runtimes.values():
            for client in runtime.clients:
                with contextlib.suppress(Exception):
                    await client.close()


def endpoint_key(config: BrainConfig, api_key: str) -> str:
    fingerprint = hashlib.sha256(api_key.encode()).hexdigest()[:16]
    return f"{config.kind}|{config.base_url or ''}|{fingerprint}"


async def runtime_for(
    config: BrainConfig,
    api_key: str,
    make_client: Callable[[], Any],
    limits: LimitBackend = LOCAL,
) -> ProviderRuntime:
    """The running loop's runtime for this endpoint and limits backend (created on first
    use)."""
    loop = asyncio.get_running_loop()
    state = _loops.get(loop)
    if state is None:
        runtimes: dict[str, ProviderRuntime] = {}
        state = _loops[loop] = _LoopState(runtimes, _close_clients_at_shutdown(runtimes))
        await anext(state.closer)
    table = state.runtimes
    endpoint = endpoint_key(config, api_key)
    key = f"{limits.name}|{endpoint}"
    runtime = table.get(key)
    if runtime is None:
        count = -(-config.concurrency // CONNECTIONS_PER_CLIENT)  # ceiling
        clients = [make_client() for _ in range(count)]
        runtime = ProviderRuntime(clients, limits.gate(endpoint, Limits.of(config)))
        table[key] = runtime
    return runtime


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds a server asked us to wait (``retry-after-ms``, ``retry-after`` as seconds or
    an HTTP date), or None."""
    if not headers:
        return None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff_delay(attempt: int, base: float, asked: float | None) -> float:
    """Delay before retry number ``attempt`` (1-based): ``base · 2^(attempt-1)`` with equal
    jitter (half fixed, half random), never shorter than what the server asked for."""
    exponential = min(MAX_DELAY_S, base * 2.0 ** (attempt - 1))
    delay = exponential / 2 + _jitter.random() * exponential / 2
    if asked is not None:
        delay = max(delay, asked)
    return min(delay, MAX_DELAY_S)
