"""Running rollout members under run leases, so two processes continuing one set never run
the same member twice (in-process runs and each worker process of ``parallel`` alike).

The members are taken in batches (one write for many), all of this runner's leases are
renewed together in one statement a few times per TTL, and each member's lease is released
as soon as its run ends, so its branch reads its real status at once.

A member another runner holds is watched until its lease either lapses or is renewed: a
lease nobody renews belongs to a runner that died (``kill -9``, a crash), so it is taken over
once it expires (within one TTL); a renewed one belongs to a live runner, and the member is
left to it (never run twice at once). Both are reported through ``on_held``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from aegntix.engine.scheduler import Scheduler
from aegntix.repository import database_of
from aegntix.timeline.leases import Lease, RunLeases, keep_renewed
from aegntix.timeline.store import Store

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Held:
    """Members this runner could not take (yet). ``waiting``: held by leases nobody renewed
    since they were first seen (a runner that died), taken over when they lapse, the last
    within ``expires_in`` seconds. ``elsewhere``: branch ids a live runner renews, left to
    it. Picklable: worker processes send it to their parent."""

    waiting: int
    elsewhere: tuple[str, ...]
    expires_in: float


async def run_leased(
    store: Store,
    scheduler: Scheduler,
    work: Sequence[tuple[str, str]],
    on_member_done: Callable[[str], None],
    on_held: Callable[[Held], None] | None = None,
) -> None:
    """Run each ``(set id, branch id)`` of ``work`` that no live runner runs, holding its
    lease while it runs; ``on_member_done(set_id)`` for each member that finished without
    error; ``on_held`` whenever the members held by other runners change (see :class:`Held`).
    Without a SQL database underneath (no lease table) every member runs."""
    sets = {branch_id: set_id for set_id, branch_id in work}
    backend = database_of(store)
    members = _Members(scheduler, sets, on_member_done, None)
    if backend is None:
        members.start(list(sets))
        await members.wait()
        return
    members.leases = leases = RunLeases(backend)
    renewer = asyncio.create_task(_renew(members))
    try:
        watch = _Watch(leases.ttl, on_held)
        pending = list(sets)
        while pending:
            taken = await asyncio.to_thread(leases.take_unfinished, pending)
            members.start(taken)
            left = set(pending) - set(taken)
            held = await asyncio.to_thread(leases.unfinished, left) if left else {}
            pending = watch.update(held, time.time())
            if pending:
                await asyncio.sleep(watch.delay(time.time()))
        await members.wait()
    finally:
        renewer.cancel()
        await members.stop()
        await asyncio.gather(renewer, return_exceptions=True)
        await asyncio.shield(asyncio.to_thread(_release_all, leases, list(members.tasks)))


class _Watch:
    """Members held by other runners' leases, told apart: the first lease seen on a member
    is remembered; the same lease still there means nobody renewed it (its runner died:
    wait for it to lapse), a different one (renewed, or taken by another runner) means a
    live runner has it."""

    def __init__(self, ttl: float, on_held: Callable[[Held], None] | None):
        self.ttl, self.on_held = ttl, on_held
        self.first: dict[str, Lease] = {}
        self.elsewhere: set[str] = set()
        self.waiting: dict[str, Lease | None] = {}
        self.reported: tuple[int, int] = (0, 0)

    def update(self, held: dict[str, Lease | None], now: float) -> list[str]:
        """Given the unfinished members not taken and their leases, the ones to try again
        (all but those a live runner has)."""
        for branch_id, lease in held.items():
            if lease is None or not lease.live(now):
                continue  # released or lapsed: taken on the next round
            if self.first.setdefault(branch_id, lease) != lease:
                self.elsewhere.add(branch_id)
        self.waiting = {b: lease for b, lease in held.items() if b not in self.elsewhere}
        counts = (len(self.waiting), len(self.elsewhere))
        if counts != self.reported:
            self.reported = counts
            log.info("members held by other runners", waiting=counts[0], elsewhere=counts[1])
            if self.on_held is not None:
                self.on_held(Held(counts[0], tuple(sorted(self.elsewhere)), self._left(now)))
        return list(self.waiting)

    def _left(self, now: float) -> float:
        ends = [lease.expires_at - now for lease in self.waiting.values() if lease is not None]
        return max([0.0, *ends])

    def delay(self, now: float) -> float:
        """Until the next look: just past the first lapse, at most a third of a TTL (how
        often a live runner renews), never a busy loop."""
        ends = [lease.expires_at - now for lease in self.waiting.values() if lease is not None]
        return min(self.ttl / 3, max(0.1, min(ends, default=0.0) + 0.05))


class _Members:
    """The member runs this process started, each releasing its lease when it ends."""

    def __init__(
        self,
        scheduler: Scheduler,
        sets: dict[str, str],
        on_member_done: Callable[[str], None],
        leases: RunLeases | None,
    ):
        self.scheduler, self.sets, self.on_member_done = scheduler, sets, on_member_done
        self.leases = leases
        self.tasks: dict[str, asyncio.Task[Any]] = {}
        self.ended: set[str] = set()  # runs over: their lease is being released, not lost

    def start(self, branch_ids: Sequence[str]) -> None:
        for branch_id in branch_ids:
            if branch_id not in self.tasks:
                self.tasks[branch_id] = asyncio.create_task(self._one(branch_id))

    async def _one(self, branch_id: str) -> None:
        try:
            await self.scheduler.start(branch_id)
        finally:
            self.ended.add(branch_id)
            if self.leases is not None:  # at once: the branch then reads its real status
                await asyncio.shield(asyncio.to_thread(self.leases.release, branch_id))
        self.on_member_done(self.sets[branch_id])

    async def wait(self) -> None:
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)

    async def stop(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.wait()


async def _renew(members: _Members) -> None:
    """Renew every lease of this runner at once, a few times per TTL; stop a member whose
    lease was taken over (it expired while this process stalled)."""
    leases = members.leases
    assert leases is not None

    def lost(keys: list[str]) -> set[str]:
        return set(keys) - leases.renew_all()

    def stop(branch_id: str) -> None:
        if branch_id not in members.ended:  # a run over releases its lease: not lost
            members.tasks[branch_id].cancel()

    # Only members started before the renewal's read (``held`` is read first): one taken
    # while it ran is not in the read yet its lease is ours (stopping it would be wrong).
    await keep_renewed(leases.ttl, lambda: set(members.tasks) - members.ended, lost, stop)


def _release_all(leases: RunLeases, branch_ids: list[str]) -> None:
    """Give up whatever is still held (members cancelled before their release ran)."""
    for branch_id in leases.renew_all() & set(branch_ids):
        leases.release(branch_id)
