"""The stored events a replica's streams send first, read once per branch and shared.

When a run starts, its followers connect together and each needs the branch's events up to
its head before the live ones: the same store read (a tenant check, the head, the events),
then the same JSON encoding, once per client. :class:`Backlog` reads a branch's events
``1..head`` once, encodes each once, and hands the same messages to every stream of that
branch that connects within ``ttl`` seconds; a later one with a higher head reads only the
events it lacks. Events are immutable (append-only), so a cached message is never wrong;
the ``ttl`` bounds how long a tenant's erased data (crypto-shredding) could still be sent,
and the entry count and the event total bound the memory. Whoever reads has already read
the branch's state through the tenant-scoped store (a foreign or deleted branch never gets
here).

Everything runs on the event loop thread; the store read runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from aegntix.server.hub import Message, event_message
from aegntix.timeline.tenancy import TenantStore

DEFAULT_TTL_S = 5.0
DEFAULT_MAX_EVENTS = 50_000  # all entries together (a few hundred bytes of text each)
DEFAULT_MAX_BRANCH_EVENTS = 5_000  # a longer backlog is paged from the store, not cached


@dataclass(slots=True)
class _Entry:
    expires: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    messages: list[Message] = field(default_factory=list)  # seqs 1, 2, 3, … contiguous


class Backlog:
    """Per-branch cache of encoded stored events; see the module docstring."""

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_TTL_S,
        max_events: int = DEFAULT_MAX_EVENTS,
        max_branch_events: int = DEFAULT_MAX_BRANCH_EVENTS,
    ) -> None:
        self.ttl = ttl
        self.max_events = max_events
        self.max_branch_events = max_branch_events
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._total = 0
        self.reads = 0  # store reads made (the rest were served from the cache)

    def cached_events(self) -> int:
        return self._total

    async def upto(self, store: TenantStore, branch_id: str, head: int) -> Sequence[Message]:
        """The messages of the branch's events ``1..head`` in order (fewer if the store holds
        fewer); empty if ``head`` exceeds ``max_branch_events`` (the caller pages)."""
        if head <= 0 or head > self.max_branch_events:
            return ()
        key = (store.tenant_id, branch_id)
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is None or entry.expires <= now:
            if entry is not None:
                self._drop(key)
            entry = self._entries[key] = _Entry(now + self.ttl)
        else:
            self._entries.move_to_end(key)
        async with entry.lock:  # one read per branch; the others wait for it and share it
            have = len(entry.messages)
            if have < head:
                self.reads += 1
                more = await asyncio.to_thread(_read, store, branch_id, have + 1, head)
                entry.messages.extend(more)
                if self._entries.get(key) is entry:
                    self._total += len(more)
                    self._evict(keep=key)
            return entry.messages[:head]

    def _drop(self, key: tuple[str, str]) -> None:
        entry = self._entries.pop(key)
        self._total -= len(entry.messages)

    def _evict(self, keep: tuple[str, str]) -> None:
        now = time.monotonic()
        for key in [k for k, e in self._entries.items() if e.expires <= now and k != keep]:
            self._drop(key)
        while self._total > self.max_events and len(self._entries) > 1:
            oldest = next(iter(self._entries))
            self._drop(oldest if oldest != keep else list(self._entries)[1])
        if self._total > self.max_events:  # the one left is too big alone: not kept
            self._drop(keep)


def _read(store: TenantStore, branch_id: str, first: int, last: int) -> list[Message]:
    """Events ``first..last``, encoded; stops before a gap (the cache stays contiguous)."""
    out: list[Message] = []
    expected = first
    for event in store.events(branch_id, from_seq=first, to_seq=last):
        if event.seq != expected:
            break
        out.append((event.seq, event_message(event)))
        expected += 1
    return out
