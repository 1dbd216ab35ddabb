"""The slice job: advance one branch by up to K steps or T ms, then queue the next slice.

A slice holds the branch's run lease (``timeline/leases.py``: never two processes on one
branch, whatever the queue does) and the queue's per-branch ``lock`` (one slice of a branch
runs at a time) for its whole length. Each step is one atomic append with ``expect_seq``, so
a slice retried after its worker died continues from the last whole step: no gap, no
duplicate. Between steps it reads the branch's run intent (``intents.py``): pause stops it
after the step, cancel aborts the job (the step in progress is dropped), and ``until_step``
bounds a "run N steps". The next slice is queued before the lease goes, so the chain never
breaks; the queueing lock merges two chains of one branch into one.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from procrastinate import App, JobContext

from aegntix.engine.runner import Runner
from aegntix.errors import BranchBusy
from aegntix.model.events import BranchStatus
from aegntix.observability import metrics
from aegntix.observability.logs import bound
from aegntix.timeline.leases import RunLeases, holding
from aegntix.timeline.sqlstore import SqlStore
from aegntix.timeline.tenancy import TenantStore
from aegntix.workers.intents import Intent, RunIntents, Want
from aegntix.workers.orphans import requeue_orphaned
from aegntix.workers.queue import (
    ADOPT_TASK,
    QUEUE,
    RETRY_TASK,
    SLICE_TASK,
    QueueSettings,
    defer_slice,
    retry_stalled,
)

if TYPE_CHECKING:
    from aegntix.workers.drivers import SetDrivers

log = structlog.get_logger(__name__)

#: The key of the worker's :class:`SliceContext` in procrastinate's job context.
CONTEXT_KEY = "aegntix"
#: Seconds before a slice that found its branch leased by someone else tries again.
BUSY_RETRY_S = 1.0
#: How often a slice reads its run intent between steps (pause latency, at most).
INTENT_EVERY_S = 0.05
#: Runners kept by a worker for the next slice of their branch (folding the state anew
#: for every slice would cost more than the queue).
KEEP_RUNNERS = 256


@dataclass
class SliceContext:
    """What slices of one worker process share."""

    store: SqlStore
    app: App
    settings: QueueSettings
    leases: RunLeases
    intents: RunIntents
    #: Set on SIGTERM: slices end after the step in progress and hand the branch back.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    slices: int = 0
    steps: int = 0
    runners: dict[str, Runner] = field(default_factory=dict)
    #: The rollout sets this worker drives (set by the worker process).
    drivers: SetDrivers | None = None

    async def runner(self, scoped: TenantStore, branch_id: str) -> Runner:
        """The runner kept from this branch's last slice here if nobody wrote to the branch
        since (same head); else a fresh one (off the loop: it folds the state)."""
        kept = self.runners.pop(branch_id, None)
        if kept is not None:
            head = (await asyncio.to_thread(scoped.get_branch, branch_id)).head_seq
            if head == kept.head_seq and kept.failure is None:
                return kept
        return await asyncio.to_thread(Runner, scoped, branch_id)

    def keep(self, runner: Runner) -> None:
        self.runners[runner.branch.id] = runner
        while len(self.runners) > KEEP_RUNNERS:
            del self.runners[next(iter(self.runners))]


def register(app: App) -> None:
    """Register the slice task, the periodic stalled-slice retrier (which also adopts the
    rollout sets waiting for a driver) and the set adopter on ``app``."""

    @app.task(name=SLICE_TASK, pass_context=True)
    async def slice_job(context: JobContext, branch_id: str, tenant_id: str, token: str) -> str:
        ctx: SliceContext = context.additional_context[CONTEXT_KEY]
        # every line about the run carries its ids, as in-process runs' lines do
        with bound(branch_id=branch_id, tenant_id=tenant_id):
            return await run_slice(ctx, branch_id, tenant_id, token)

    # every few seconds (6th cron field: seconds); no lock=, so a stuck run cannot block it
    every = max(1, round(QueueSettings.from_env().heartbeat_s))
    cron = f"* * * * * */{every}"

    @app.periodic(cron=cron, periodic_id="stalled", queue=QUEUE)  # the queue workers read
    @app.task(name=RETRY_TASK, pass_context=True)
    async def retry_job(context: JobContext, timestamp: int) -> int:
        ctx: SliceContext = context.additional_context[CONTEXT_KEY]
        handed = await retry_stalled(ctx.app, ctx.settings.stalled_s)
        await requeue_orphaned(ctx.app, ctx.store, ctx.leases, ctx.settings.stalled_s)
        if ctx.drivers is not None:  # a driver that died: its lease lapsed
            await ctx.drivers.adopt()
        return handed

    @app.task(name=ADOPT_TASK, pass_context=True, queue=QUEUE)
    async def adopt_job(context: JobContext) -> int:
        ctx: SliceContext = context.additional_context[CONTEXT_KEY]
        return 0 if ctx.drivers is None else await ctx.drivers.adopt()

    del slice_job, retry_job, adopt_job  # registered on the app: nothing else calls them


async def run_slice(ctx: SliceContext, branch_id: str, tenant_id: str, token: str) -> str:
    """One slice; what became of it (``stale``, ``busy``, ``continued``, ``done``, …)."""
    bound = log.bind(branch=branch_id, tenant=tenant_id)
    intent = await asyncio.to_thread(ctx.intents.read, branch_id)
    if intent is None or intent.token != token:
        return "stale"  # settled, or a newer start took over (its own chain runs it)
    scoped = TenantStore(ctx.store, tenant_id)
    if intent.want is not Want.RUN:  # paused or cancelled before this slice started
        await asyncio.to_thread(_settle, ctx, scoped, intent, BranchStatus.PAUSED)
        return "paused"
    kwargs = {"branch_id": branch_id, "tenant_id": tenant_id, "token": token}
    try:
        async with holding(ctx.leases, branch_id):
            return await _advance(ctx, scoped, intent, kwargs, bound)
    except BranchBusy:
        # the lease is held elsewhere: a CLI run, or a dead worker whose lease has not expired
        bound.info("branch leased elsewhere; slice retried later")
        await defer_slice(ctx.app, kwargs, delay_s=BUSY_RETRY_S)
        return "busy"


async def _advance(
    ctx: SliceContext,
    scoped: TenantStore,
    intent: Intent,
    kwargs: dict[str, Any],
    bound: Any,
) -> str:
    branch_id, token, settings = intent.branch_id, intent.token, ctx.settings
    started = time.monotonic()
    runner = await ctx.runner(scoped, branch_id)
    intent = await asyncio.to_thread(ctx.intents.fix_until, intent, runner.completed_step)
    if runner.branch.status is not BranchStatus.RUNNING:
        await asyncio.to_thread(scoped.set_status, branch_id, BranchStatus.RUNNING)
    ran = 0
    # a pause that came while the runner was built: the intent just read says so, and a short
    # run would end before the next read (every INTENT_EVERY_S) saw it
    end = BranchStatus.PAUSED if intent.token == token and intent.want is not Want.RUN else None
    checked = time.monotonic()
    try:
        while end is None:
            if intent.until_step is not None and runner.completed_step >= intent.until_step:
                end = BranchStatus.IDLE
                break
            result = await runner.step()
            if result is None or result.terminal:
                end = BranchStatus.DONE
                ran += result is not None
                break
            ran += 1
            if time.monotonic() - checked >= INTENT_EVERY_S:
                checked = time.monotonic()
                current = await asyncio.to_thread(ctx.intents.read, branch_id)
                if current is None or current.token != token:
                    return "stale"
                if current.want is not Want.RUN:
                    end = BranchStatus.PAUSED
                    break
            elapsed_ms = (time.monotonic() - started) * 1000
            if ran >= settings.slice_steps or elapsed_ms >= settings.slice_ms:
                break
            if ctx.stopping.is_set():
                bound.info("worker stopping: slice handed back", steps=ran)
                break
    except asyncio.CancelledError:
        # aborted: a cancel (the branch stops, the step in progress is dropped) or a
        # shutdown past its grace (the branch goes on elsewhere)
        with contextlib.suppress(Exception):
            await asyncio.shield(_after_abort(ctx, scoped, intent, kwargs))
        raise
    except BranchBusy:
        bound.warning("slice lost its branch to another writer", steps=ran)
        return "lost"
    except Exception:
        # the runner recorded the failure (status failed): the run is over
        await asyncio.to_thread(ctx.intents.settle, branch_id, token)
        raise
    finally:
        ctx.slices += 1
        ctx.steps += ran
        metrics.slice_done(time.monotonic() - started, ran)
    if end is None:
        ctx.keep(runner)
        await defer_slice(ctx.app, kwargs)  # before the lease goes: the chain never breaks
        bound.debug("slice done", steps=ran, step=runner.completed_step)
        return "continued"
    await asyncio.to_thread(_settle, ctx, scoped, intent, end)
    bound.info("run settled", status=end.value, steps=ran, step=runner.completed_step)
    return end.value


async def _after_abort(
    ctx: SliceContext, scoped: TenantStore, intent: Intent, kwargs: dict[str, Any]
) -> None:
    current = await asyncio.to_thread(ctx.intents.read, intent.branch_id)
    if current is not None and current.token == intent.token and current.want is Want.RUN:
        await defer_slice(ctx.app, kwargs)
        return
    await asyncio.to_thread(_settle, ctx, scoped, intent, BranchStatus.PAUSED)


def _settle(ctx: SliceContext, scoped: TenantStore, intent: Intent, status: BranchStatus) -> None:
    # the status first: whoever no longer sees the intent sees the final status
    scoped.set_status(intent.branch_id, status)
    ctx.intents.settle(intent.branch_id, intent.token)


def new_context(store: SqlStore, app: App, settings: QueueSettings) -> SliceContext:
    return SliceContext(store, app, settings, RunLeases(store), RunIntents(store))
