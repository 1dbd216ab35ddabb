"""The ``QueueExecutor``: runs go to worker processes through the procrastinate queue.

The API process keeps no run state: a start records the run intent and queues the branch's
first slice; pause and cancel change the intent (cancel also aborts the slice's job, which
procrastinate turns into a cancelled asyncio task on the worker); status is the branch row,
its run lease and its intent. So any API replica answers for any run, and a replica that
dies loses nothing. Events reach WebSocket clients over the shared bus, from whichever
worker appended them.
"""

from __future__ import annotations

import asyncio
import time
from functools import partial
from typing import TYPE_CHECKING

import structlog
from procrastinate import App

from aegntix.analysis.driving import queue_sets
from aegntix.analysis.records import SetStatus
from aegntix.analysis.rollouts import repository
from aegntix.engine.runner import StepResult
from aegntix.errors import BranchBusy, NoWorker, RunFailed
from aegntix.model.events import BranchStatus, EventKind
from aegntix.observability import metrics
from aegntix.timeline.bus import StatusChange
from aegntix.timeline.leases import RunLeases
from aegntix.timeline.sqlstore import SqlStore
from aegntix.timeline.tenancy import TenantStore
from aegntix.workers.census import count_live, depths
from aegntix.workers.executor import NO_WORKER_HINT, QUEUED, RunState
from aegntix.workers.intents import RunIntents, Want
from aegntix.workers.queue import (
    QueueSettings,
    defer_adopt,
    defer_slice,
    ensure_schema,
    make_app,
    slice_lock,
)
from aegntix.workers.runstate import PAUSING, RunRow, read_run, run_state
from aegntix.workers.slices import register

if TYPE_CHECKING:
    from aegntix.server.deps import Hub

log = structlog.get_logger(__name__)

#: How long ``step`` waits for a worker to run the step.
STEP_TIMEOUT_S = 120.0
_POLL_S = 0.02


class _SharedRead:
    """One status read and the callers waiting for it (``QueueExecutor.status``)."""

    __slots__ = ("future", "started")

    def __init__(self) -> None:
        self.future: asyncio.Future[RunRow] | None = None
        self.started = False  # set by the worker thread just before it checks out


class QueueExecutor:
    """Create with :meth:`open` in the running event loop; :meth:`close` when done."""

    def __init__(
        self,
        store: SqlStore,
        app: App,
        settings: QueueSettings,
        hub: Hub | None = None,
        *,
        replica: bool = True,
    ) -> None:
        """``replica``: an API replica's (reports the queue depth, announces the statuses no
        row holds); a worker's set drivers use one that does neither (the worker reports
        the queue once already; a member's stream hears the statuses its slices store)."""
        self._store = store
        self._app = app
        self._settings = settings
        self._hub = hub
        self._announce = replica
        self.leases = RunLeases(store)
        self.intents = RunIntents(store)
        self._reads: dict[tuple[str, str], _SharedRead] = {}  # status reads not yet begun
        self._unregister = (
            metrics.register_queue_depth(lambda: depths(store)) if replica else lambda: None
        )

    @classmethod
    async def open(
        cls, store: SqlStore, db: str, hub: Hub | None = None, settings: QueueSettings | None = None
    ) -> QueueExecutor:
        settings = settings or QueueSettings.from_env()
        await ensure_schema(db)
        app = make_app(db, settings)
        register(app)
        await app.open_async()
        return cls(store, app, settings, hub)

    def _tell(self, branch_id: str, status: str) -> None:
        """Announce a status no row holds (``queued``, ``pausing``, a start's ``running``)
        to the WebSocket clients of every replica: over the shared bus (this replica's hub
        follows it too). Head unknown (0): it goes out at once, behind what this replica
        published before; a stored status a worker commits later comes after it."""
        bus = self._store.bus
        if not self._announce:
            return
        if bus is not None:
            bus.publish_status(StatusChange(branch_id, status, 0))
        elif self._hub is not None:
            self._hub.publish_status(branch_id, status)

    async def _live_workers(self) -> int:
        return await asyncio.to_thread(count_live, self._store, self._settings.stalled_s)

    async def start(self, store: TenantStore, branch_id: str, steps: int | None = None) -> str:
        await asyncio.to_thread(store.get_branch, branch_id)  # a foreign id stays a 404
        if await asyncio.to_thread(self.leases.holder, branch_id) is not None:
            raise BranchBusy(f"branch '{branch_id}' is already running; pause it first")
        intent = await asyncio.to_thread(self.intents.begin, branch_id, steps)
        try:
            status = BranchStatus.RUNNING.value if await self._live_workers() else QUEUED
            # told before the slice is queued: no worker can have run (and settled) it yet,
            # so every replica's clients read this before the statuses the worker stores
            self._tell(branch_id, status)
            kwargs = {"branch_id": branch_id, "tenant_id": intent.tenant_id, "token": intent.token}
            await defer_slice(self._app, kwargs)
        except BaseException:
            await asyncio.to_thread(self.intents.settle, branch_id, intent.token)
            raise
        if status == QUEUED:
            log.warning("run queued with no worker alive", branch_id=branch_id, hint=NO_WORKER_HINT)
        return status

    async def pause(self, store: TenantStore, branch_id: str) -> str:
        await asyncio.to_thread(store.get_branch, branch_id)
        if await asyncio.to_thread(self.intents.ask, branch_id, Want.PAUSE) is None:
            raise BranchBusy(f"branch '{branch_id}' is not running")
        # told at once, before the worker can have stopped: its stored ``paused`` comes after
        # (bar a worker faster than this line: a client's next re-read of the store corrects
        # it, ``docs/workers.md``)
        self._tell(branch_id, PAUSING)
        if await self._stop_queued(store, branch_id, abort=False):
            return BranchStatus.PAUSED.value  # nothing was running: settled here, told so
        return PAUSING

    async def cancel(self, branch_id: str) -> bool:
        """Stop now: the step in progress is dropped, the branch ends ``paused``."""
        intent = await asyncio.to_thread(self.intents.ask, branch_id, Want.CANCEL)
        if intent is None:
            return False
        await self._stop_queued(TenantStore(self._store, intent.tenant_id), branch_id, abort=True)
        return True

    async def _stop_queued(self, store: TenantStore, branch_id: str, *, abort: bool) -> bool:
        """Withdraw the branch's waiting slice; with ``abort``, abort its running one too
        (its worker settles the run). With no slice running the run is settled here: True."""
        manager = self._app.job_manager
        lock = slice_lock(branch_id)
        doing = list(await manager.list_jobs_async(lock=lock, status="doing"))
        for job in doing if abort else []:
            if job.id is not None:
                await manager.cancel_job_by_id_async(job.id, abort=True)
        if doing or await asyncio.to_thread(self.leases.holder, branch_id) is not None:
            # A slice runs: it stops after its step (or at once) and settles. Its next slice
            # may be queued already (it is queued before the lease goes); it stays queued and
            # settles the run when it starts. Withdrawing it here stranded the run "pausing".
            return False
        for job in await manager.list_jobs_async(lock=lock, status="todo"):
            if job.id is not None and not await manager.cancel_job_by_id_async(job.id, abort=abort):
                return False  # a worker took it just now: that slice settles the run
        intent = await asyncio.to_thread(self.intents.read, branch_id)
        if intent is None or intent.want is Want.RUN:
            return False
        await asyncio.to_thread(store.set_status, branch_id, BranchStatus.PAUSED)
        await asyncio.to_thread(self.intents.settle, branch_id, intent.token)
        if self._store.bus is None:  # else the stored change went out on the bus already
            self._tell(branch_id, BranchStatus.PAUSED.value)
        return True

    async def drive_sets(self, store: TenantStore, set_ids: list[str]) -> None:
        """Queue rollout sets (a set and its control) for a worker to drive
        (``workers/drivers.py``): ``BranchBusy`` if a live driver has one. They read running
        at once, on every replica, and go on to the end whichever process dies."""
        repo = repository(store)
        await asyncio.to_thread(queue_sets, self._store, set_ids, store.tenant_id)
        for set_id in set_ids:
            await asyncio.to_thread(repo.update, set_id, status=SetStatus.RUNNING)
        await defer_adopt(self._app)

    async def step(self, store: TenantStore, branch_id: str) -> StepResult | None:
        before = await asyncio.to_thread(store.get_branch, branch_id)
        if before.status is BranchStatus.DONE:
            return None
        if not await self._live_workers():
            raise NoWorker(NO_WORKER_HINT)
        await self.start(store, branch_id, 1)
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while await asyncio.to_thread(self.intents.read, branch_id) is not None:
            if time.monotonic() > deadline:
                await self.cancel(branch_id)
                raise NoWorker(f"no worker ran the step within {STEP_TIMEOUT_S:.0f} s")
            await asyncio.sleep(_POLL_S)
        after = await asyncio.to_thread(store.get_branch, branch_id)
        if after.failure is not None and after.status is BranchStatus.FAILED:
            raise RunFailed(after.failure.line(branch_id))
        if after.head_seq == before.head_seq:
            return None
        events = await asyncio.to_thread(
            lambda: list(store.events(branch_id, from_seq=before.head_seq + 1))
        )
        end = events[-1]
        outcomes = dict(end.payload.get("outcomes") or {}) if end.kind == EventKind.SYSTEM else {}
        terminal = bool(end.payload.get("terminal"))
        return StepResult(branch_id, end.step, events, outcomes, terminal)

    async def status(self, store: TenantStore, branch_id: str) -> RunState:
        """The run as it stands: one statement (row, lease, intent, live workers;
        ``workers/runstate.py``), shared by the callers asking for the same branch before
        it began — a run's followers connect together, and under load their reads wait
        for a thread. A read that began already is not joined: a caller gets a state read
        after it asked (a stream subscribes first, then asks, so nothing falls between)."""
        key = (store.tenant_id, branch_id)
        shared = self._reads.get(key)
        if shared is None or shared.started:
            shared = self._reads[key] = _SharedRead()
            loop = asyncio.get_running_loop()
            future = loop.run_in_executor(None, self._read_shared, shared, branch_id, key[0])
            future.add_done_callback(partial(self._forget, key, shared))
            shared.future = future
        assert shared.future is not None
        return run_state(await asyncio.shield(shared.future))

    def _read_shared(self, shared: _SharedRead, branch_id: str, tenant_id: str) -> RunRow:
        shared.started = True  # from here a newcomer may have subscribed after the read
        return self._read_run(branch_id, tenant_id)

    def _read_run(self, branch_id: str, tenant_id: str) -> RunRow:
        with self._store.reading(one_statement=True) as conn:
            return read_run(conn, branch_id, tenant_id, self._settings.stalled_s, time.time())

    def _forget(
        self, key: tuple[str, str], shared: _SharedRead, done: asyncio.Future[RunRow]
    ) -> None:
        if self._reads.get(key) is shared:
            del self._reads[key]
        if not done.cancelled():
            done.exception()  # retrieved: every caller may have gone (disconnected)

    async def running(self, branch_id: str) -> bool:
        if await asyncio.to_thread(self.leases.holder, branch_id) is not None:
            return True
        intent = await asyncio.to_thread(self.intents.read, branch_id)
        return intent is not None and intent.want is Want.RUN

    async def stop_scenario(self, branch_ids: list[str]) -> None:
        for branch_id in branch_ids:
            await self.cancel(branch_id)

    async def close(self, timeout: float = 5.0) -> None:
        self._unregister()
        await self._app.close_async()
