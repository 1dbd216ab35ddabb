"""The live fan-out of a branch's events to its WebSocket subscribers (DESIGN §8).

One :class:`EventHub` per server process (``app.state.hub``). It follows the store's bus
(:meth:`EventHub.follow`): every committed append and status change, from this process or
(with a shared bus) another — a worker, a CLI run — reaches :meth:`EventHub.publish_events`
or :meth:`EventHub.publish_status` on the event loop thread, in commit order. The executor
also publishes the statuses no row holds (``pausing``, ``queued``). Publishing is
synchronous and O(subscribers): each event is serialized to JSON text **once**, and every
subscriber of the branch gets a reference to the same batch in its own bounded buffer. The
hub never awaits and never waits for a client.

A subscriber whose buffer would exceed ``max_queue`` messages is *overflowed*: its buffer is
dropped and it stops receiving live messages until its reader calls :meth:`Subscription.take`,
which reports the overflow and re-arms it. The stream (``stream.py``) then sends
``{"type": "resync", "from_seq": N}`` and re-feeds the client from the store, so a slow
client costs the publisher and the other clients nothing and still loses no event.

Everything here runs on one event loop thread; nothing is locked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aegntix.model.events import Event
from aegntix.server.schemas import finite
from aegntix.timeline.bus import Bus, Publication, StatusChange

DEFAULT_MAX_QUEUE = 1_000

Message = tuple[int, str]
"""One outgoing WebSocket message: ``(seq, json_text)``. ``seq`` > 0: an event; ``seq`` <= 0:
a status, set when the branch's head was at ``-seq`` (0: not known), so a stream sends the
events up to there before it."""

Batch = tuple[Message, ...]
"""What one publish call hands every subscriber of the branch (shared, never copied)."""


_strict_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def to_json(value: object) -> str:
    """Compact JSON text, as sent on the wire. NaN and infinities (an outcome can be one) are
    not JSON: they become null, as in the REST API."""
    try:
        return _strict_json(value)
    except ValueError:
        return _strict_json(finite(value))


def event_message(event: Event) -> str:
    """``{"type": "event", "event": {...}}`` as compact JSON text."""
    return to_json({"type": "event", "event": event.to_json()})


def status_message(status: str, failure: dict[str, Any] | None = None) -> str:
    """``{"type": "status", "status": ...}``; a ``failed`` one carries its ``failure``."""
    message: dict[str, Any] = {"type": "status", "status": status}
    if failure is not None:
        message["failure"] = failure
    return to_json(message)


class Subscription:
    """One client's live feed of one branch: a bounded buffer of shared batches.

    Created by :meth:`EventHub.subscribe`; read by exactly one task, with :meth:`wait`
    then :meth:`take`.
    """

    __slots__ = (
        "_batches",
        "_hub",
        "_overflowed",
        "_size",
        "_waiter",
        "branch_id",
        "closed",
        "max_queue",
    )

    def __init__(self, hub: EventHub, branch_id: str, max_queue: int) -> None:
        self._hub = hub
        self.branch_id = branch_id
        self.max_queue = max_queue
        self._batches: deque[Batch] = deque()
        self._size = 0  # messages buffered (sum of batch lengths)
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False
        self._overflowed = False

    @property
    def overflowed(self) -> bool:
        return self._overflowed

    @property
    def pending(self) -> int:
        """Messages buffered and not yet taken."""
        return self._size

    def _offer(self, batch: Batch) -> bool:
        """Buffer ``batch`` (called by the hub). False when this put overflows the buffer."""
        if self._overflowed:
            return True  # already dropped; the reader will resync from the store
        size = self._size + len(batch)
        if size > self.max_queue:
            self._batches.clear()
            self._size = 0
            self._overflowed = True
            self._wake()
            return False
        self._batches.append(batch)
        self._size = size
        self._wake()
        return True

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def ready(self) -> bool:
        """Something to take: buffered messages, an overflow, or the end."""
        return self._size > 0 or self._overflowed or self.closed

    async def wait(self, timeout: float | None = None) -> bool:
        """Until :meth:`ready` (True) or ``timeout`` seconds passed (False)."""
        if self.ready():
            return True
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiter = waiter
        handle = None if timeout is None else loop.call_later(timeout, _time_out, waiter)
        try:
            await waiter
        finally:
            if handle is not None:
                handle.cancel()
            if self._waiter is waiter:
                self._waiter = None
        return self.ready()

    def take(self) -> tuple[list[Batch], bool]:
        """Everything buffered, oldest first, and whether the buffer overflowed since the last
        take (its contents are then gone: re-read from the store). Re-arms the subscription."""
        batches = list(self._batches)
        self._batches.clear()
        self._size = 0
        overflowed, self._overflowed = self._overflowed, False
        return batches, overflowed

    def close(self) -> None:
        """Stop receiving (idempotent); wakes a pending :meth:`wait`."""
        if not self.closed:
            self.closed = True
            self._hub._remove(self)
            self._batches.clear()
            self._size = 0
            self._wake()


def _time_out(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


@dataclass(slots=True)
class HubStats:
    published_events: int = 0
    published_statuses: int = 0
    deliveries: int = 0  # batches handed to subscribers
    overflows: int = 0


class EventHub:
    """Per-branch subscriber sets with bounded buffers; see the module docstring."""

    def __init__(self, *, max_queue: int = DEFAULT_MAX_QUEUE) -> None:
        if max_queue < 1:
            raise ValueError("max_queue must be >= 1")
        self.max_queue = max_queue
        self._subscribers: dict[str, dict[Subscription, None]] = {}
        self._last_seq: dict[str, int] = {}
        self.stats = HubStats()

    # -- subscribers ---------------------------------------------------------------------
    def subscribe(self, branch_id: str, *, max_queue: int | None = None) -> Subscription:
        sub = Subscription(self, branch_id, max_queue or self.max_queue)
        self._subscribers.setdefault(branch_id, {})[sub] = None
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        sub.close()

    def _remove(self, sub: Subscription) -> None:
        subs = self._subscribers.get(sub.branch_id)
        if subs is not None:
            subs.pop(sub, None)
            if not subs:
                del self._subscribers[sub.branch_id]

    def subscriber_count(self, branch_id: str | None = None) -> int:
        if branch_id is not None:
            return len(self._subscribers.get(branch_id, ()))
        return sum(len(s) for s in self._subscribers.values())

    def last_seq(self, branch_id: str) -> int:
        """The highest seq published for the branch by this process (0 if none)."""
        return self._last_seq.get(branch_id, 0)

    # -- publishing (sync, never blocks) -------------------------------------------------
    def publish_events(self, branch_id: str, events: Sequence[Event]) -> None:
        """Hand ``events`` (just appended, in seq order) to every subscriber of the branch."""
        if not events:
            return
        last = events[-1].seq
        if last > self._last_seq.get(branch_id, 0):
            self._last_seq[branch_id] = last
        self.stats.published_events += len(events)
        subs = self._subscribers.get(branch_id)
        if subs:
            self._fan_out(subs, tuple((e.seq, event_message(e)) for e in events))

    def publish_status(
        self,
        branch_id: str,
        status: str,
        failure: dict[str, Any] | None = None,
        *,
        head_seq: int = 0,
    ) -> None:
        """``head_seq``: the branch's head when the status was set (0: not known)."""
        self.stats.published_statuses += 1
        subs = self._subscribers.get(branch_id)
        if subs:
            self._fan_out(subs, ((-max(head_seq, 0), status_message(str(status), failure)),))

    def _fan_out(self, subs: Iterable[Subscription], batch: Batch) -> None:
        stats = self.stats
        for sub in tuple(subs):
            stats.deliveries += 1
            if not sub._offer(batch):
                stats.overflows += 1

    def follow(self, bus: Bus) -> Callable[[], None]:
        """Publish what ``bus`` announces (events and status changes); call in the event
        loop. Returns the unfollow.

        Announcements come from other threads (the writer, a bus's reader): they are queued
        and handed over with one loop wake-up per burst, in arrival order."""
        loop = asyncio.get_running_loop()
        inbox: deque[Publication] = deque()
        lock = threading.Lock()
        scheduled = False

        def drain() -> None:
            nonlocal scheduled
            with lock:
                items = list(inbox)
                inbox.clear()
                scheduled = False
            for item in items:
                if isinstance(item, StatusChange):
                    self.publish_status(
                        item.branch_id, item.status, item.failure, head_seq=item.head_seq
                    )
                else:
                    self.publish_events(*item)

        def take(item: Publication) -> None:
            nonlocal scheduled
            with lock:
                inbox.append(item)
                if scheduled:
                    return
                scheduled = True
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody listens any more
                loop.call_soon_threadsafe(drain)

        def events(branch_id: str, events: Sequence[Event]) -> None:
            take((branch_id, events))

        unfollow_events = bus.subscribe(events)
        unfollow_status = bus.subscribe_status(take)

        def unfollow() -> None:
            unfollow_events()
            unfollow_status()

        return unfollow

    def close(self) -> None:
        """Close every subscription (server shutdown)."""
        for subs in list(self._subscribers.values()):
            for sub in list(subs):
                sub.close()
