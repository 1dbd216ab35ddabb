"""``RunManager``: runs branches inside the server's event loop.

One engine :class:`Scheduler` per tenant, each on that tenant's :class:`TenantStore` (so a run
reads and writes through the tenant-scoped path, and concurrency is limited per tenant). A run
holds its branch's lease in the database while it runs. Events reach the WebSocket hub from
the store's bus (published on commit, whoever wrote them); status changes are told here.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

import structlog

from aegntix.engine.failures import as_project_error
from aegntix.engine.runner import Runner, RunSummary, StepResult
from aegntix.engine.scheduler import Scheduler
from aegntix.errors import BranchBusy
from aegntix.model.events import BranchStatus
from aegntix.timeline.leases import RunLeases, as_running, keep_renewed
from aegntix.timeline.sqlstore import SqlStore
from aegntix.timeline.tenancy import TenantStore
from aegntix.workers.executor import RunState

if TYPE_CHECKING:
    from aegntix.server.deps import Hub

log = structlog.get_logger(__name__)

#: Steps in flight at once per tenant (a step holds a slot while its brains decide).
TENANT_CONCURRENCY = 16


class NotRunning(BranchBusy):
    """Pause of a branch that is not running."""


class RunManager:
    """The in-process :class:`~aegntix.workers.executor.Executor` (the embedded default).

    Create in the running event loop (the app's lifespan); every method runs in it.

    Whether a branch runs is its lease in the database (``timeline/leases.py``), so another
    server or an ``aegntix run`` on the same database counts too. ``_tasks`` only keeps the
    runs this process owns."""

    def __init__(
        self,
        store: SqlStore,
        hub: Hub,
        *,
        concurrency: int = TENANT_CONCURRENCY,
        leases: RunLeases | None = None,
    ):
        self._store = store
        self._hub = hub
        self._concurrency = concurrency
        self.leases = leases or RunLeases(store)
        self._schedulers: dict[str, Scheduler] = {}
        self._tasks: dict[str, asyncio.Task[RunSummary]] = {}
        self._busy: set[str] = set()  # being started or stepped by hand
        self._releasing: dict[str, asyncio.Task[None]] = {}
        self._renewer: asyncio.Task[None] | None = None
        self._closed = False

    def _scheduler(self, tenant_id: str) -> Scheduler:
        scheduler = self._schedulers.get(tenant_id)
        if scheduler is None:
            scheduler = Scheduler(
                TenantStore(self._store, tenant_id), concurrency=self._concurrency
            )
            self._schedulers[tenant_id] = scheduler
        return scheduler

    def is_running(self, branch_id: str) -> bool:
        """Running in this process."""
        task = self._tasks.get(branch_id)
        return task is not None and not task.done()

    async def running(self, branch_id: str) -> bool:
        """Running anywhere: a live lease on it (this process's or another's)."""
        if self.is_running(branch_id):
            return True
        return await asyncio.to_thread(self.leases.holder, branch_id) is not None

    async def _claim(self, branch_id: str) -> None:
        """Take the branch's lease (``BranchBusy`` if anyone runs it) and mark it busy."""
        if self._closed:
            raise BranchBusy("the server is shutting down")
        releasing = self._releasing.get(branch_id)
        if releasing is not None:  # our last run of it is handing its lease back
            await asyncio.shield(releasing)
        if branch_id in self._busy or self.is_running(branch_id):
            raise BranchBusy(f"branch '{branch_id}' is already running; pause it first")
        self._busy.add(branch_id)
        try:
            await asyncio.to_thread(self.leases.take, branch_id)
        except BaseException:
            self._busy.discard(branch_id)
            raise
        self._keep_renewing()

    async def _release(self, branch_id: str) -> None:
        try:
            await asyncio.to_thread(self.leases.release, branch_id)
        except Exception as exc:  # it expires on its own
            log.warning("could not release a run lease", branch=branch_id, error=repr(exc))

    async def _runner(self, store: TenantStore, branch_id: str) -> Runner:
        # Built fresh (off the loop: it folds the branch's state), so writes made since the
        # last run (an injection at the head) are seen.
        return await asyncio.to_thread(Runner, store, branch_id)

    async def start(self, store: TenantStore, branch_id: str, steps: int | None = None) -> str:
        """Start (or resume) running ``branch_id`` of ``store``'s tenant. ``BranchNotFound``
        for a foreign or missing id; ``BranchBusy`` if it is already running anywhere."""
        await asyncio.to_thread(store.get_branch, branch_id)  # a foreign id stays a 404
        await self._claim(branch_id)
        try:
            scheduler = self._scheduler(store.tenant_id)
            runner = await self._runner(store, branch_id)
            task = scheduler.start(branch_id, steps=steps, runner=runner)
        except BaseException:
            await self._release(branch_id)
            raise
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
        if self._tasks.get(branch_id) is not task:
            return
        # The lease goes before the task does and before clients hear the final status:
        # whoever sees "not running" can start the branch again at once.
        done = asyncio.ensure_future(self._hand_back(scheduler, branch_id, task, runner))
        self._releasing[branch_id] = done

    async def _hand_back(
        self,
        scheduler: Scheduler,
        branch_id: str,
        task: asyncio.Task[RunSummary],
        runner: Runner,
    ) -> None:
        try:
            await self._release(branch_id)
        finally:
            del self._tasks[branch_id]
            self._releasing.pop(branch_id, None)
            scheduler.forget(branch_id)  # the next run builds a fresh runner anyway
        failure: dict[str, object] | None = None
        if task.cancelled():
            status = BranchStatus.PAUSED.value
        elif (error := task.exception()) is not None:
            if isinstance(error, BranchBusy):
                status = BranchStatus.IDLE.value
                log.warning("run lost its branch to another writer", branch=branch_id)
            else:
                status = BranchStatus.FAILED.value
                log.error("run failed", branch=branch_id, error=repr(error))
                failure = None if runner.failure is None else runner.failure.to_json()
        else:
            status = task.result().status.value
        self._hub.publish_status(branch_id, status, failure)

    def _keep_renewing(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.ensure_future(self._renew_loop())

    async def _renew_loop(self) -> None:
        """Renew this process's leases a few times per TTL; a run whose lease was taken over
        (this process stalled past the TTL) is stopped."""

        def stop(branch_id: str) -> None:
            task = self._tasks.get(branch_id)
            if task is not None and not task.done():
                log.warning("run lease taken over; stopping the run", branch_id=branch_id)
                task.cancel()

        await keep_renewed(
            self.leases.ttl,
            lambda: [*self._tasks, *self._busy],
            self.leases.renew,
            stop,
            while_=lambda: bool(self._tasks or self._busy),
        )

    async def pause(self, store: TenantStore, branch_id: str) -> str:
        """Ask a branch this process runs to stop after its current step."""
        if not self.is_running(branch_id):
            raise NotRunning(f"branch '{branch_id}' is not running in this server")
        self._scheduler(store.tenant_id).pause(branch_id)
        self._hub.publish_status(branch_id, "pausing")
        return "pausing"

    async def cancel(self, branch_id: str) -> bool:
        """Stop a run of this process at once (its step in progress writes nothing)."""
        task = self._tasks.get(branch_id)
        if task is None or task.done():
            return False
        task.cancel()
        return True

    async def step(self, store: TenantStore, branch_id: str) -> StepResult | None:
        """Exactly one step; None if the branch has already terminated."""
        await asyncio.to_thread(store.get_branch, branch_id)  # a foreign id stays a 404
        await self._claim(branch_id)
        scheduler = self._scheduler(store.tenant_id)
        runner: Runner | None = None
        try:
            runner = await self._runner(store, branch_id)
            result = await scheduler.step(branch_id, runner=runner)
            if result is not None and result.terminal:
                await asyncio.to_thread(store.set_status, branch_id, BranchStatus.DONE)
                self._hub.publish_status(branch_id, BranchStatus.DONE.value)
            elif result is not None and runner.branch.status is BranchStatus.FAILED:
                # a failed branch stepped on by hand: it works again, the old reason goes
                await asyncio.to_thread(store.set_status, branch_id, BranchStatus.IDLE)
                self._hub.publish_status(branch_id, BranchStatus.IDLE.value)
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
            await self._release(branch_id)
            self._busy.discard(branch_id)
            scheduler.forget(branch_id)
        return result

    async def status(self, store: TenantStore, branch_id: str) -> RunState:
        """From ONE read of the branch row and its lease: never "running" with a stale
        head, and a dead owner's expired lease reads as not running."""
        stored, lease = await asyncio.to_thread(self.leases.read, branch_id, store.tenant_id)
        b, running = as_running(stored, lease, time.time())
        return RunState(branch_id, b.status.value, running, b.head_seq, b.head_step, b.failure)

    async def stop_scenario(self, branch_ids: list[str]) -> None:
        """Stop the runs of these branches (their scenario is being deleted)."""
        tasks = [self._tasks[b] for b in branch_ids if self.is_running(b)]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await self._handed_back()

    async def _handed_back(self) -> None:
        releasing = list(self._releasing.values())
        if releasing:
            await asyncio.gather(*releasing, return_exceptions=True)

    async def close(self, timeout: float = 5.0) -> None:
        """Cancel every run (each leaves its branch ``paused`` after its last whole step)."""
        self._closed = True
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._handed_back(), timeout)
        if self._renewer is not None:
            self._renewer.cancel()
            await asyncio.gather(self._renewer, return_exceptions=True)
