"""Progress of rollout sets another API replica drives, for this replica's set streams.

The driving replica counts its members in memory (the :class:`ProgressBoard`); every other
replica reads the counts from the database instead: the members' statuses in one query per
set, read again whenever a member's status change arrives on the bus (``subscribe_status``)
and, as a fallback, every :data:`FALLBACK_S` seconds. It writes them into its own board, so
the stream code is the same on every replica. One reader per set however many clients watch
it; it stops when the last of them leaves or the driver's lease is gone (the set settled, or
its driver died: the set then reads stopped, and Continue is offered).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aegntix.analysis.driving import driven
from aegntix.analysis.rollouts import repository
from aegntix.model.events import BranchStatus
from aegntix.timeline.bus import StatusChange
from aegntix.timeline.tenancy import TenantStore

if TYPE_CHECKING:
    from aegntix.server.rollout_stream import ProgressBoard

#: Seconds between two reads when no status change arrives (a bus message lost, or none).
FALLBACK_S = 2.0
#: Seconds a read waits after a change, so a burst of members finishing costs one read.
COALESCE_S = 0.1


@dataclass(frozen=True, slots=True)
class _Counts:
    done: int
    total: int
    forked: int
    step: float | None  # the members' mean head step
    branches: frozenset[str]


def _read(store: TenantStore, ids: Sequence[str]) -> dict[str, _Counts] | None:
    """Each set's counts, or None when no replica drives them any more."""
    if not driven(store.backend, ids):
        return None
    repo, out = repository(store), {}
    for set_id in ids:
        heads = repo.member_heads(set_id)  # one query: each member's branch and status
        done = sum(1 for h in heads if h.status == BranchStatus.DONE.value)
        branches = frozenset(h.branch_id for h in heads)
        step = sum(h.head_step for h in heads) / len(heads) if heads else None
        out[set_id] = _Counts(done, repo.get(set_id).n, len(heads), step, branches)
    return out


class Mirrors:
    """This replica's readers of sets driven elsewhere, shared by their streams."""

    def __init__(self, board: ProgressBoard) -> None:
        self._board = board
        self._readers: dict[tuple[str, ...], tuple[asyncio.Task[None], int]] = {}

    async def follow(self, store: TenantStore, ids: Sequence[str]) -> bool:
        """Mirror ``ids`` (a set and its control) while another replica drives them; False
        (nothing to follow) if none does. Each True is paired with :meth:`unfollow`."""
        key = tuple(ids)
        if key in self._readers:
            task, count = self._readers[key]
            self._readers[key] = (task, count + 1)
            return True
        counts = await asyncio.to_thread(_read, store, ids)
        if counts is None:
            return False
        self._put(counts)
        if key in self._readers:  # another stream started one meanwhile
            task, count = self._readers[key]
            self._readers[key] = (task, count + 1)
            return True
        task = asyncio.create_task(self._run(store, key, counts), name=f"mirror:{ids[0]}")
        self._readers[key] = (task, 1)
        return True

    def unfollow(self, ids: Sequence[str]) -> None:
        key = tuple(ids)
        task, count = self._readers.get(key, (None, 0))
        if task is None:
            return
        if count > 1:
            self._readers[key] = (task, count - 1)
            return
        del self._readers[key]
        task.cancel()
        for set_id in ids:
            self._board.unmirror(set_id, settled=False)

    def _put(self, counts: dict[str, _Counts]) -> None:
        for set_id, c in counts.items():
            self._board.mirror(set_id, done=c.done, total=c.total, forked=c.forked, step=c.step)

    async def _run(
        self, store: TenantStore, ids: tuple[str, ...], counts: dict[str, _Counts]
    ) -> None:
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()
        members = frozenset().union(*(c.branches for c in counts.values()))

        def heard(change: StatusChange) -> None:  # any thread
            if change.branch_id in members:
                with contextlib.suppress(RuntimeError):  # the loop closed: nobody listens
                    loop.call_soon_threadsafe(woken.set)

        bus = store.backend.bus
        unsubscribe = bus.subscribe_status(heard) if bus is not None else None
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), FALLBACK_S)
                await asyncio.sleep(COALESCE_S)
                woken.clear()
                try:
                    read = await asyncio.to_thread(_read, store, ids)
                except Exception:  # a busy database now and then: the next round reads again
                    continue
                if read is None:
                    break
                members = frozenset().union(*(c.branches for c in read.values()))
                self._put(read)
        finally:
            if unsubscribe is not None:
                unsubscribe()
        if self._readers.get(ids, (None, 0))[0] is asyncio.current_task():
            del self._readers[ids]
        for set_id in ids:
            self._board.unmirror(set_id, settled=True)
