"""Talking to a provider politely: a concurrency limit and a token-bucket rate limiter per
provider, exponential backoff with jitter, ``Retry-After``.

Limits are per *provider endpoint* (kind + base URL + key), shared by every agent and every
branch in the event loop, and created with the limits of the first config that uses them.
asyncio primitives and HTTP clients belong to one event loop, so each loop gets its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hashlib
import random
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aegntix.model.scenario import BrainConfig

#: Never wait longer than this for one retry, whatever a server asks.
MAX_DELAY_S = 120.0
_jitter = random.Random()  # timing only; decisions never see it (they use the engine's rng)


class TokenBucket:
    """``rate`` requests per second on average, bursts of up to ``burst``; FIFO waiters."""

    def __init__(self, per_minute: float, burst: float | None = None) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, burst if burst is not None else self.rate)
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


#: Connections per HTTP client. An SDK's connection pool scans every pooled connection (a
#: socket query each) whenever a request takes or returns one, so one client holding 100
#: connections costs O(100) per request; several small clients keep that constant.
CONNECTIONS_PER_CLIENT = 16


@dataclass
class ProviderRuntime:
    """One provider endpoint in one event loop: its clients and its limits."""

    clients: list[Any]
    slots: asyncio.Semaphore
    bucket: TokenBucket | None
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
    config: BrainConfig, api_key: str, make_client: Callable[[], Any]
) -> ProviderRuntime:
    """The running loop's runtime for this endpoint (created on first use)."""
    loop = asyncio.get_running_loop()
    state = _loops.get(loop)
    if state is None:
        runtimes: dict[str, ProviderRuntime] = {}
        state = _loops[loop] = _LoopState(runtimes, _close_clients_at_shutdown(runtimes))
        await anext(state.closer)
    table = state.runtimes
    key = endpoint_key(config, api_key)
    runtime = table.get(key)
    if runtime is None:
        rpm = config.requests_per_minute
        bucket = TokenBucket(rpm) if rpm else None
        count = -(-config.concurrency // CONNECTIONS_PER_CLIENT)  # ceiling
        clients = [make_client() for _ in range(count)]
        runtime = ProviderRuntime(clients, asyncio.Semaphore(config.concurrency), bucket)
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
