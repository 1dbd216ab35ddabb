"""A :class:`~aegntix.timeline.bus.Bus` over Redis pub/sub, for processes sharing a database.

One background thread runs an event loop with the ``redis.asyncio`` client: a publisher that
drains what the writer thread queued (one PUBLISH per burst, its publications in a JSON
array) and a subscriber on one channel. This process's own publications reach its listeners
at once, in the writer thread, and are skipped when they come back from Redis (each
publication names its origin).

Pub/sub is fire-and-forget: a message published while a subscriber is reconnecting is lost.
Readers notice the gap in seqs and fill it from the store, so nothing reaches a client twice
or out of order (``server/stream.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import redis.asyncio as aioredis
import structlog

from aegntix.errors import StoreError
from aegntix.model.events import Event
from aegntix.timeline.bus import (
    Listener,
    Listeners,
    Publication,
    StatusChange,
    StatusListener,
    encode_message,
    status_text,
)

log = structlog.get_logger(__name__)

DEFAULT_CHANNEL = "aegntix:events"
#: How long opening waits for Redis, and closing for the last publications (seconds).
CONNECT_TIMEOUT = 5.0
CLOSE_TIMEOUT = 5.0
_RETRY_PAUSE = 0.5
_BURST = 256  # publications per PUBLISH

_Item = Publication


class RedisBus:
    def __init__(self, url: str, *, channel: str = DEFAULT_CHANNEL) -> None:
        """Connects and subscribes before returning: ``StoreError`` if Redis is out of
        reach, so a wrong URL is one line at start, not silence later."""
        self.url = url
        self.channel = channel
        self.origin = secrets.token_hex(8)
        self._listeners = Listeners()
        self._loop = asyncio.new_event_loop()
        self._pending: deque[_Item | None] = deque()  # guarded by _lock
        self._wake: asyncio.Event | None = None
        self._wake_pending = False
        self._stopping = False
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._main, name="aegntix-redis-bus", daemon=True)
        self._thread.start()
        if not self._ready.wait(CONNECT_TIMEOUT + 1) or self._error is not None:
            self.close()
            reason = self._error or "timed out"
            raise StoreError(f"bus: cannot reach Redis at {url}: {reason}")

    # -- Bus -------------------------------------------------------------------------------
    def publish(self, branch_id: str, events: Sequence[Event]) -> None:
        if not events:
            return
        self._listeners.deliver(branch_id, events)
        self._enqueue((branch_id, events))

    def publish_status(self, change: StatusChange) -> None:
        self._listeners.deliver_status(change)
        self._enqueue(change)

    def _enqueue(self, item: _Item | None) -> None:
        """Queue for the bus thread; one loop wake-up per burst, not per publication (and
        the JSON encoding happens there, not in the writer thread)."""
        with self._lock:
            if self._stopping or self._wake is None:
                return
            self._pending.append(item)
            self._stopping = item is None
            if self._wake_pending:
                return
            self._wake_pending = True
            wake = self._wake
        with contextlib.suppress(RuntimeError):  # the loop already stopped
            self._loop.call_soon_threadsafe(wake.set)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self._listeners.add(listener)

    def subscribe_status(self, listener: StatusListener) -> Callable[[], None]:
        return self._listeners.add_status(listener)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._enqueue(None)
        self._thread.join(CLOSE_TIMEOUT)

    # -- the bus thread ----------------------------------------------------------------------
    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to the opener, or logged
            if not self._ready.is_set():
                self._error = exc
            else:
                log.error("redis bus stopped", error=repr(exc))
        finally:
            self._ready.set()
            self._loop.close()

    async def _serve(self) -> None:
        client = aioredis.Redis.from_url(self.url, socket_connect_timeout=CONNECT_TIMEOUT)
        try:
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            await asyncio.wait_for(pubsub.subscribe(self.channel), CONNECT_TIMEOUT)
            with self._lock:
                self._wake = asyncio.Event()
            self._ready.set()
            reader = asyncio.create_task(self._read(pubsub))
            try:
                await self._write(client, self._wake)
            finally:
                reader.cancel()
                with contextlib.suppress(BaseException):
                    await reader
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()

    async def _write(self, client: aioredis.Redis, wake: asyncio.Event) -> None:
        """Publish what was queued, burst by burst, until the stop marker."""
        while True:
            await wake.wait()
            wake.clear()
            with self._lock:
                items = list(self._pending)
                self._pending.clear()
                self._wake_pending = False
            texts = [self._text(item) for item in items if item is not None]
            # one PUBLISH per burst: a JSON array of its publications
            for start in range(0, len(texts), _BURST):
                await self._send(client, "[" + ",".join(texts[start : start + _BURST]) + "]")
            if None in items:
                return

    def _text(self, item: _Item) -> str:
        if isinstance(item, StatusChange):
            return status_text(self.origin, item)
        return encode_message(self.origin, *item)

    async def _send(self, client: aioredis.Redis, message: str) -> None:
        try:
            await client.publish(self.channel, message)
        except Exception as exc:  # readers fill the gap from the store
            log.warning("redis bus: publish failed", error=repr(exc))

    async def _read(self, pubsub: Any) -> None:
        while True:
            try:
                message = await pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("redis bus: receive failed, resubscribing", error=repr(exc))
                await asyncio.sleep(_RETRY_PAUSE)
                with contextlib.suppress(Exception):
                    await pubsub.subscribe(self.channel)
                continue
            if message is not None and message.get("type") == "message":
                self._listeners.deliver_message(message["data"], self.origin, "redis")
