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
from typing import TYPE_CHECKING

import structlog
from procrastinate import App

from aegntix.engine.runner import StepResult
from aegntix.errors import BranchBusy, NoWorker, RunFailed
from aegntix.model.events import BranchStatus, EventKind
from aegntix.observability import metrics
from aegntix.timeline.leases import RunLeases, as_running
from aegntix.timeline.sqlstore import SqlStore
from aegntix.timeline.tenancy import TenantStore
from aegntix.workers.census import count_live, depths
from aegntix.workers.executor import NO_WORKER_HINT, QUEUED, RunState
from aegntix.workers.intents import RunIntents, Want
from aegntix.workers.queue import QueueSettings, defer_slice, ensure_schema, make_app, slice_lock
from aegntix.workers.slices import register

if TYPE_CHECKING:
    from aegntix.server.deps import Hub

log = structlog.get_logger(__name__)

#: How long ``step`` waits for a worker to run the step.
STEP_TIMEOUT_S = 120.0
#: Status of a run asked to pause (or cancel) that has not stopped yet.
PAUSING = "pausing"
_POLL_S = 0.02


class QueueExecutor:
    """Create with :meth:`open` in the running event loop; :meth:`close` when done."""

    def __init__(
        self, store: SqlStore, app: App, settings: QueueSettings, hub: Hub | None = None
    ) -> None:
        self._store = store
        self._app = app
        self._settings = settings
        self._hub = hub
        self.leases = RunLeases(store)
        self.intents = RunIntents(store)
        self._unregister = metrics.register_queue_depth(lambda: depths(store))

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
        if self._hub is not None:
            self._hub.publish_status(branch_id, status)

    async def _live_workers(self) -> int:
        return await asyncio.to_thread(count_live, self._store, self._settings.stalled_s)

    async def start(self, store: TenantStore, branch_id: str, steps: int | None = None) -> str:
        await asyncio.to_thread(store.get_branch, branch_id)  # a foreign id stays a 404
        if await asyncio.to_thread(self.leases.holder, branch_id) is not None:
            raise BranchBusy(f"branch '{branch_id}' is already running; pause it first")
        intent = await asyncio.to_thread(self.intents.begin, branch_id, steps)
        try:
            kwargs = {"branch_id": branch_id, "tenant_id": intent.tenant_id, "token": intent.token}
            await defer_slice(self._app, kwargs)
        except BaseException:
            await asyncio.to_thread(self.intents.settle, branch_id, intent.token)
            raise
        status = BranchStatus.RUNNING.value if await self._live_workers() else QUEUED
        if status == QUEUED:
            log.warning("run queued with no worker alive", branch=branch_id, hint=NO_WORKER_HINT)
        self._tell(branch_id, status)
        return status

    async def pause(self, store: TenantStore, branch_id: str) -> str:
        await asyncio.to_thread(store.get_branch, branch_id)
        if await asyncio.to_thread(self.intents.ask, branch_id, Want.PAUSE) is None:
            raise BranchBusy(f"branch '{branch_id}' is not running")
        await self._stop_queued(store, branch_id, abort=False)
        self._tell(branch_id, PAUSING)
        return PAUSING

    async def cancel(self, branch_id: str) -> bool:
        """Stop now: the step in progress is dropped, the branch ends ``paused``."""
        intent = await asyncio.to_thread(self.intents.ask, branch_id, Want.CANCEL)
        if intent is None:
            return False
        await self._stop_queued(TenantStore(self._store, intent.tenant_id), branch_id, abort=True)
        return True

    async def _stop_queued(self, store: TenantStore, branch_id: str, *, abort: bool) -> None:
        """Withdraw the branch's waiting slice; with ``abort``, abort its running one too
        (its worker settles the run). With no slice running the run is settled here."""
        manager = self._app.job_manager
        lock = slice_lock(branch_id)
        for job in await manager.list_jobs_async(lock=lock, status="todo"):
            if job.id is not None:
                await manager.cancel_job_by_id_async(job.id, abort=abort)
        doing = list(await manager.list_jobs_async(lock=lock, status="doing"))
        for job in doing if abort else []:
            if job.id is not None:
                await manager.cancel_job_by_id_async(job.id, abort=True)
        if doing or await asyncio.to_thread(self.leases.holder, branch_id) is not None:
            return  # the running slice stops after its step (or at once) and settles
        intent = await asyncio.to_thread(self.intents.read, branch_id)
        if intent is not None and intent.want is not Want.RUN:
            await asyncio.to_thread(store.set_status, branch_id, BranchStatus.PAUSED)
            await asyncio.to_thread(self.intents.settle, branch_id, intent.token)
            self._tell(branch_id, BranchStatus.PAUSED.value)

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
        # the intent first: a run settling in between then shows its final row
        intent = await asyncio.to_thread(self.intents.read, branch_id)
        stored, lease = await asyncio.to_thread(self.leases.read, branch_id, store.tenant_id)
        b, running = as_running(stored, lease, time.time())
        status = b.status.value
        finished = b.status in {BranchStatus.DONE, BranchStatus.FAILED}
        if not running and intent is not None and not finished:
            # between slices, or waiting for a worker: the run is still on
            running = True
            if intent.want is not Want.RUN:
                status = PAUSING
            else:
                live = await self._live_workers()
                status = BranchStatus.RUNNING.value if live else QUEUED
        return RunState(branch_id, status, running, b.head_seq, b.head_step, b.failure)

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
