"""Running rollout members under run leases, so two processes continuing one set never run
the same member twice (in-process runs and each worker process of ``parallel`` alike).

The members are taken in batches (one write for many), all of this runner's leases are
renewed together in one statement a few times per TTL, and each member's lease is released
as soon as its run ends, so its branch reads its real status at once. Members another
process holds are waited for: taken over if that process dies (its leases lapse), skipped
once it finishes them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import structlog

from aegntix.engine.scheduler import Scheduler
from aegntix.repository import database_of
from aegntix.timeline.leases import RunLeases
from aegntix.timeline.store import Store

log = structlog.get_logger(__name__)


async def run_leased(
    store: Store,
    scheduler: Scheduler,
    work: Sequence[tuple[str, str]],
    on_member_done: Callable[[str], None],
) -> None:
    """Run each ``(set id, branch id)`` of ``work`` that no other process runs, holding its
    lease while it runs; ``on_member_done(set_id)`` for each member that finished without
    error. Without a SQL database underneath (no lease table) every member runs."""
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
        pending = list(sets)
        while pending:
            taken = await asyncio.to_thread(leases.take_unfinished, pending)
            members.start(taken)
            left = set(pending) - set(taken)
            pending = [] if not left else await asyncio.to_thread(leases.unfinished, left)
            if pending:  # running in another process: wait for it to finish or die
                log.info("members run by another process", waiting=len(pending))
                await asyncio.sleep(leases.ttl / 3)
        await members.wait()
    finally:
        renewer.cancel()
        await members.stop()
        await asyncio.gather(renewer, return_exceptions=True)
        await asyncio.shield(asyncio.to_thread(_release_all, leases, list(members.tasks)))


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
    while True:
        await asyncio.sleep(leases.ttl / 3)
        try:
            held = await asyncio.to_thread(leases.renew_all)
        except Exception:  # a locked database now and then: next round
            continue
        for branch_id, task in members.tasks.items():
            if branch_id not in held and branch_id not in members.ended:
                task.cancel()


def _release_all(leases: RunLeases, branch_ids: list[str]) -> None:
    """Give up whatever is still held (members cancelled before their release ran)."""
    for branch_id in leases.renew_all() & set(branch_ids):
        leases.release(branch_id)
