"""``RunManager``: runs branches inside the server's event loop and reports them to the hub.

One engine :class:`Scheduler` per tenant, each on that tenant's :class:`TenantStore` (so a run
reads and writes through the tenant-scoped path, and concurrency is limited per tenant). Every
committed step is published to the WebSocket hub; status changes too.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from aegntix.engine.failures import as_project_error
from aegntix.engine.runner import Runner, RunSummary, StepResult
from aegntix.engine.scheduler import Scheduler
from aegntix.errors import BranchBusy
from aegntix.model.events import BranchStatus, Event, Failure
from aegntix.timeline.sqlstore import SqlStore
from aegntix.timeline.tenancy import TenantStore

if TYPE_CHECKING:
    from aegntix.server.deps import Hub

log = structlog.get_logger(__name__)

#: Steps in flight at once per tenant (a step holds a slot while its brains decide).
TENANT_CONCURRENCY = 16


class NotRunning(BranchBusy):
    """Pause of a branch that is not running."""


@dataclass(frozen=True, slots=True)
class RunState:
    branch_id: str
    status: str
    running: bool
    head_seq: int
    head_step: int
    failure: Failure | None = None


class RunManager:
    """Create in the running event loop (the app's lifespan); every method runs in it."""

    def __init__(self, store: SqlStore, hub: Hub, *, concurrency: int = TENANT_CONCURRENCY):
        self._store = store
        self._hub = hub
        self._concurrency = concurrency
        self._schedulers: dict[str, Scheduler] = {}
        self._tasks: dict[str, asyncio.Task[RunSummary]] = {}
        self._busy: set[str] = set()  # being started or stepped by hand
        self._closed = False

    def _scheduler(self, tenant_id: str) -> Scheduler:
        scheduler = self._schedulers.get(tenant_id)
        if scheduler is None:
            scheduler = Scheduler(
                TenantStore(self._store, tenant_id),
                concurrency=self._concurrency,
                on_step=self._on_step,
            )
            self._schedulers[tenant_id] = scheduler
        return scheduler

    def _on_step(self, result: StepResult) -> None:
        self._hub.publish_events(result.branch_id, result.events)

    def publish(self, branch_id: str, events: list[Event]) -> None:
        """Tell stream clients about events written outside a run (an injection)."""
        if events:
            self._hub.publish_events(branch_id, events)

    def is_running(self, branch_id: str) -> bool:
        task = self._tasks.get(branch_id)
        return task is not None and not task.done()

    def _claim(self, branch_id: str) -> None:
        if self._closed:
            raise BranchBusy("the server is shutting down")
        if branch_id in self._busy or self.is_running(branch_id):
            raise BranchBusy(f"branch '{branch_id}' is already running; pause it first")
        self._busy.add(branch_id)

    async def _runner(self, store: TenantStore, branch_id: str) -> Runner:
        # Built fresh (off the loop: it folds the branch's state), so writes made since the
        # last run (an injection at the head) are seen.
        return await asyncio.to_thread(Runner, store, branch_id)

    async def start(self, store: TenantStore, branch_id: str, steps: int | None = None) -> str:
        """Start (or resume) running ``branch_id`` of ``store``'s tenant. ``BranchNotFound``
        for a foreign or missing id; ``BranchBusy`` if it is already running."""
        self._claim(branch_id)
        try:
            scheduler = self._scheduler(store.tenant_id)
            runner = await self._runner(store, branch_id)
            task = scheduler.start(branch_id, steps=steps, runner=runner)
        finally:
            self._busy.discard(branch_id)
        self._tasks[branch_id] = task
        task.add_done_callback(lambda t: self._finished(scheduler, branch_id, t, runner))
        self._hub.publish_status(branch_id, BranchStatus.RUNNING.value)
        return BranchStatus.RUNNING.value

    def _finished(
        self,
        scheduler: Scheduler,
        branch_id: str,
        task: asyncio.Task[RunSummary],
        runner: Runner,
    ) -> None:
        if self._tasks.get(branch_id) is task:
            del self._tasks[branch_id]
            scheduler.forget(branch_id)  # the next run builds a fresh runner anyway
        if task.cancelled():
            status = BranchStatus.PAUSED.value
        elif (error := task.exception()) is not None:
            if isinstance(error, BranchBusy):
                status = BranchStatus.IDLE.value
                log.warning("run lost its branch to another writer", branch=branch_id)
            else:
                status = BranchStatus.FAILED.value
                log.error("run failed", branch=branch_id, error=repr(error))
                failure = runner.failure
                self._hub.publish_status(
                    branch_id, status, None if failure is None else failure.to_json()
                )
                return
        else:
            status = task.result().status.value
        self._hub.publish_status(branch_id, status)

    def pause(self, store: TenantStore, branch_id: str) -> str:
        """Ask a running branch to stop after its current step."""
        if not self.is_running(branch_id):
            raise NotRunning(f"branch '{branch_id}' is not running")
        self._scheduler(store.tenant_id).pause(branch_id)
        self._hub.publish_status(branch_id, "pausing")
        return "pausing"

    async def step(self, store: TenantStore, branch_id: str) -> StepResult | None:
        """Exactly one step; None if the branch has already terminated."""
        self._claim(branch_id)
        scheduler = self._scheduler(store.tenant_id)
        runner: Runner | None = None
        try:
            runner = await self._runner(store, branch_id)
            result = await scheduler.step(branch_id, runner=runner)
        except BranchBusy:
            raise
        except Exception as exc:
            # The step wrote nothing and the runner recorded why: tell the stream, and
            # answer with a problem document (a generic one for a bug), never a raw 500.
            if runner is not None and runner.failure is not None:
                self._hub.publish_status(
                    branch_id, BranchStatus.FAILED.value, runner.failure.to_json()
                )
            error = as_project_error(exc)
            if error is exc:
                raise
            raise error from exc
        finally:
            self._busy.discard(branch_id)
            scheduler.forget(branch_id)
        if result is not None:
            self._hub.publish_events(branch_id, result.events)
            if result.terminal:
                await asyncio.to_thread(store.set_status, branch_id, BranchStatus.DONE)
                self._hub.publish_status(branch_id, BranchStatus.DONE.value)
            elif runner is not None and runner.branch.status is BranchStatus.FAILED:
                # a failed branch stepped on by hand: it works again, the old reason goes
                await asyncio.to_thread(store.set_status, branch_id, BranchStatus.IDLE)
                self._hub.publish_status(branch_id, BranchStatus.IDLE.value)
        return result

    async def status(self, store: TenantStore, branch_id: str) -> RunState:
        # Running first: a run that ends meanwhile has written its final status before the
        # branch is read (the other order could report a finished run as still "running").
        running = self.is_running(branch_id)
        branch = await asyncio.to_thread(store.get_branch, branch_id)
        status = BranchStatus.RUNNING.value if running else branch.status.value
        failure = None if running else branch.failure
        return RunState(branch_id, status, running, branch.head_seq, branch.head_step, failure)

    async def stop_scenario(self, branch_ids: list[str]) -> None:
        """Stop the runs of these branches (their scenario is being deleted)."""
        tasks = [self._tasks[b] for b in branch_ids if self.is_running(b)]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self, timeout: float = 5.0) -> None:
        """Cancel every run (each leaves its branch ``paused`` after its last whole step)."""
        self._closed = True
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout)
