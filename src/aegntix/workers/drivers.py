"""Rollout-set drivers on workers: on PostgreSQL an API replica queues a set
(``analysis/driving.py``) and a worker adopts it and drives it, so the set goes on to the end
whichever process dies (an API replica: it drives nothing; the driving worker: its lease
lapses and another worker adopts the set within one TTL, continuing from the members' rows).

A driver is an asyncio task of the worker process, not a queue job: it lives as long as its
set and mostly sleeps between polls, and a job would hold one of the worker's slots (with
``--concurrency 1``, the one its own members' slices need). Adoption runs from a job, though:
the periodic stalled-slice job (every heartbeat) and ``queue.ADOPT_TASK``, which an API
replica queues when it queues a set (so a set starts at once, not at the next heartbeat).

A driver forks the members its set lacks, then runs the unfinished ones through the queue in
chunks (``members.py``): a member already running (its run lease or run intent) is followed,
never started twice. It settles the set at the end; stopped (the worker shuts down) it hands
the set back to the queue instead, for another worker.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import structlog
from procrastinate import App

from aegntix.analysis.driving import SetLeases, orphaned
from aegntix.analysis.forking import fork_missing_members
from aegntix.analysis.records import RolloutSet
from aegntix.analysis.rollouts import fail_sets, repository
from aegntix.errors import NotFound, StoreUnavailable, is_transient
from aegntix.timeline.leases import renewing
from aegntix.timeline.sqlstore import SqlStore
from aegntix.timeline.tenancy import TenantStore
from aegntix.workers.members import run_on_workers
from aegntix.workers.queue import QueueSettings
from aegntix.workers.remote import QueueExecutor

log = structlog.get_logger(__name__)


class SetDrivers:
    """The sets one worker process drives."""

    def __init__(self, store: SqlStore, app: App, settings: QueueSettings) -> None:
        self.store = store
        self.leases = SetLeases(store)
        self.executor = QueueExecutor(store, app, settings, replica=False)
        self.tasks: dict[str, asyncio.Task[Any]] = {}  # set id → its group's driver
        self.stopping = False

    async def adopt(self) -> int:
        """Drive every set waiting for a driver that this worker can take; how many groups
        (a set and its control) it took."""
        if self.stopping:
            return 0
        waiting = await asyncio.to_thread(orphaned, self.store)
        groups = await asyncio.to_thread(_groups, self.store, waiting)
        taken = 0
        for tenant_id, ids in groups:
            if self.stopping or any(i in self.tasks for i in ids):
                continue
            if not await asyncio.to_thread(self.leases.adopt, ids, tenant_id):
                continue  # another worker was first
            task = asyncio.create_task(self._drive(tenant_id, ids), name=f"set-driver:{ids[0]}")
            for set_id in ids:
                self.tasks[set_id] = task
            task.add_done_callback(functools.partial(self._ended, ids))
            taken += 1
            log.info("rollout set adopted", set_id=ids[0], tenant_id=tenant_id, sets=len(ids))
        return taken

    def _ended(self, ids: list[str], task: asyncio.Task[Any]) -> None:
        for set_id in ids:
            if self.tasks.get(set_id) is task:
                del self.tasks[set_id]
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("rollout set driver failed", set_id=ids[0], error=repr(error))

    async def _drive(self, tenant_id: str, ids: list[str]) -> None:
        store = TenantStore(self.store, tenant_id)
        repo = repository(store)
        ended: list[str] = []  # how the body ended: "settled", "failed", or nothing (cancelled)

        def end() -> None:  # in a thread, however the driver ends
            if ended == ["failed"]:
                # a transient fault (the database out of reach, say): the lease is left to
                # lapse, and a worker adopts the set again one TTL later
                return
            stopped = self.stopping and not ended  # the worker shuts down: hand it on
            (self.leases.hand_back if stopped else self.leases.release)(ids)

        async with renewing(lambda: self.leases.renew(ids), self.leases.ttl, end):
            try:
                sets = [await asyncio.to_thread(repo.get, i) for i in ids]
                forked = await _fork(store, sets)
                if forked:
                    await run_on_workers(self.executor, store, sets, settle_if_stopped=False)
            except Exception as error:
                if is_transient(error):
                    ended.append("failed")
                    raise
                # anything else would fail again on every adoption: the set fails, saying why
                # (every replica's API and UI read it), and its lease is released
                log.error("rollout set driver failed", set_id=ids[0], error=repr(error))
                await asyncio.to_thread(fail_sets, repo, ids, error)
                ended.append("settled")
                return
            ended.append("settled")
        log.info("rollout set settled", set_id=ids[0], tenant_id=tenant_id)

    async def close(self) -> None:
        """Stop driving: each set is handed back to the queue (members already started go
        on); another worker adopts it."""
        self.stopping = True
        tasks = set(self.tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _groups(store: SqlStore, waiting: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """The waiting sets as driven together: each with its control, a control alone only
    when no waiting set has it."""
    groups: list[tuple[str, list[str]]] = []
    for set_id, tenant_id in waiting:
        try:
            rollout = repository(TenantStore(store, tenant_id)).get(set_id)
        except NotFound:
            continue  # deleted with its scenario: nothing to drive
        ids = [set_id] + ([rollout.control_id] if rollout.control_id else [])
        groups.append((tenant_id, ids))
    controls = {i for _, ids in groups for i in ids[1:]}
    return [(t, ids) for t, ids in groups if ids[0] not in controls]


async def _fork(store: TenantStore, sets: list[RolloutSet]) -> bool:
    """Fork the members the sets lack (the control first, as ``create_set`` does); False if
    a fork failed: the sets are then marked failed (as a set the API forks is). A cancel
    stops after the member being forked."""
    repo = repository(store)
    for rollout in reversed(sets):
        try:
            await fork_missing_members(store, repo, rollout)
        except StoreUnavailable:
            raise  # the database, not the fork: adopted again one TTL later
        except Exception as error:
            log.error("rollout set fork failed", set_id=sets[0].id, error=repr(error))
            await asyncio.to_thread(fail_sets, repo, [s.id for s in sets], error)
            return False
    return True
