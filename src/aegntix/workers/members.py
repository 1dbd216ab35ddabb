"""Rollout-set members on workers: on PostgreSQL, the API's rollout task (and ``aegntix
rollouts`` while a worker is alive) starts the members through the
:class:`~aegntix.workers.remote.QueueExecutor` in chunks (at most ``chunk`` members queued or
running at once, so a 1,000-member set never floods the queue ahead of other runs), and
reports progress (members done) to the set's WebSocket stream or the CLI's progress bar."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

import structlog

from aegntix.analysis.driving import SetLeases, driving
from aegntix.analysis.records import RolloutSet, SetStatus, SqlRollouts
from aegntix.analysis.rollouts import repository, settle
from aegntix.errors import BranchBusy
from aegntix.model.events import BranchStatus
from aegntix.timeline.schema import DEFAULT_TENANT
from aegntix.timeline.sqlstore import SqlStore
from aegntix.timeline.tenancy import TenantStore
from aegntix.workers.census import count_live
from aegntix.workers.queue import QueueSettings
from aegntix.workers.remote import QueueExecutor

log = structlog.get_logger(__name__)

#: Members of a set in the queue or running at once.
CHUNK = 64
_POLL_S = 0.2

Progress = Callable[[str, int, int], None]


async def run_on_workers(
    executor: QueueExecutor,
    store: TenantStore,
    sets: Sequence[RolloutSet],
    on_progress: Progress | None = None,
    *,
    chunk: int = CHUNK,
    pause_on_cancel: bool = False,
    settle_if_stopped: bool = True,
) -> list[RolloutSet]:
    """Run every unfinished member of ``sets`` on the workers; settle the sets at the end
    (also when cancelled or failed, unless not ``settle_if_stopped``: members already
    started go on, ``continue`` or the next driver finds them; with ``pause_on_cancel``
    they are paused after their step, as a local run's would be)."""
    repo = repository(store)
    waiting: list[tuple[str, str]] = []
    done: dict[str, int] = {}
    for rollout in sets:
        await asyncio.to_thread(repo.update, rollout.id, status=SetStatus.RUNNING)
        members = await asyncio.to_thread(repo.members, rollout.id)
        statuses = await asyncio.to_thread(repo.member_statuses, rollout.id)
        pending = [m for m in members if statuses.get(m.index) != BranchStatus.DONE.value]
        done[rollout.id] = len(members) - len(pending)
        if on_progress is not None:
            on_progress(rollout.id, done[rollout.id], rollout.n)
        waiting.extend((rollout.id, m.branch_id) for m in pending)
    totals = {s.id: s.n for s in sets}
    running: dict[str, str] = {}  # branch → set
    try:
        while waiting or running:
            while waiting and len(running) < chunk:
                set_id, branch_id = waiting.pop(0)
                # already running (a previous start): follow it all the same
                with contextlib.suppress(BranchBusy):
                    await executor.start(store, branch_id)
                running[branch_id] = set_id
            await asyncio.sleep(_POLL_S)
            still = await asyncio.to_thread(executor.intents.pending, list(running))
            for branch_id in [b for b in running if b not in still]:
                set_id = running.pop(branch_id)
                done[set_id] += 1
                if on_progress is not None:
                    on_progress(set_id, done[set_id], totals[set_id])
    except BaseException as stopped:
        if pause_on_cancel and isinstance(stopped, asyncio.CancelledError):
            await asyncio.shield(_pause(executor, store, list(running)))
        if settle_if_stopped:  # else another driver goes on with the sets: they stay running
            await asyncio.shield(_settle_all(repo, sets))
        raise
    settled = await _settle_all(repo, sets)
    log.info("rollout sets settled on workers", sets=[s.id for s in settled])
    return settled


async def _settle_all(repo: SqlRollouts, sets: Sequence[RolloutSet]) -> list[RolloutSet]:
    return [await asyncio.to_thread(settle, repo, s.id) for s in sets]


async def _pause(executor: QueueExecutor, store: TenantStore, branch_ids: list[str]) -> None:
    for branch_id in branch_ids:
        with contextlib.suppress(BranchBusy):  # settled meanwhile
            await executor.pause(store, branch_id)


def live_workers(store: SqlStore) -> int:
    """Workers alive on ``store``'s PostgreSQL database (heart-beating within
    ``AEGNTIX_STALLED_SECONDS``); 0 on SQLite."""
    if store.engine.dialect.name != "postgresql":
        return 0
    return count_live(store, QueueSettings.from_env().stalled_s)


async def run_sets_on_workers(
    store: SqlStore, db: str, sets: Sequence[RolloutSet], on_progress: Progress | None = None
) -> list[RolloutSet]:
    """``aegntix rollouts`` on workers: the sets' unfinished members (default tenant's, as
    every CLI command) through the queue of ``db``; Ctrl-C pauses the members started.
    The CLI drives the sets as an API replica would: under their leases, so every replica
    reads them running (``BranchBusy`` if a replica drives one already)."""
    leases, ids = SetLeases(store), [s.id for s in sets]
    await asyncio.to_thread(leases.take, ids, DEFAULT_TENANT)
    async with driving(leases, ids):
        executor = await QueueExecutor.open(store, db)
        try:
            scoped = TenantStore(store, DEFAULT_TENANT)
            return await run_on_workers(executor, scoped, sets, on_progress, pause_on_cancel=True)
        finally:
            await executor.close()
