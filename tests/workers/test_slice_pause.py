"""A pause that lands while a slice builds its runner stops the slice before its first step.
Without it a short run (the town hall's 12 steps take less than one intent-read interval on
a worker) finished to ``done`` after the API had answered ``pausing``."""

from __future__ import annotations

import asyncio

import structlog

from aegntix.engine import start_scenario
from aegntix.model.events import BranchStatus
from aegntix.model.loading import load_scenario
from aegntix.timeline import SqlStore
from aegntix.timeline.leases import RunLeases
from aegntix.timeline.tenancy import TenantStore
from aegntix.workers.intents import RunIntents, Want
from aegntix.workers.queue import QUEUE, QueueSettings, make_app
from aegntix.workers.remote import QueueExecutor
from aegntix.workers.slices import CONTEXT_KEY, _advance, new_context, register
from tests.support import EXAMPLES


def test_a_pause_before_the_first_step_runs_no_step(pg_url: str, pg_store: SqlStore) -> None:
    branch = start_scenario(pg_store, load_scenario(EXAMPLES / "town-hall.yaml"))
    settings = QueueSettings()
    ctx = new_context(pg_store, make_app(pg_url, settings), settings)
    started = ctx.intents.begin(branch.id, None)  # what the slice read when it began
    assert ctx.intents.ask(branch.id, Want.PAUSE) is not None  # the user's pause, just after
    scoped = TenantStore(pg_store, branch.tenant_id)
    kwargs = {"branch_id": branch.id, "tenant_id": branch.tenant_id, "token": started.token}

    outcome = asyncio.run(_advance(ctx, scoped, started, kwargs, structlog.get_logger()))

    assert outcome == BranchStatus.PAUSED.value
    after = pg_store.get_branch(branch.id)
    assert (after.head_seq, after.status) == (branch.head_seq, BranchStatus.PAUSED)
    assert ctx.intents.read(branch.id) is None  # settled


def test_a_pause_as_a_slice_hands_over_leaves_the_next_slice_to_settle_it(
    pg_url: str, pg_store: SqlStore
) -> None:
    """A slice queues its successor before it lets go of the lease. A pause in that window
    used to withdraw the successor and leave the settling to a slice that had already made
    its last check: the run read ``pausing`` for ever (a CI failure on a loaded machine)."""
    branch = start_scenario(pg_store, load_scenario(EXAMPLES / "town-hall.yaml"))
    scoped = TenantStore(pg_store, branch.tenant_id)
    settings = QueueSettings()

    async def scenario() -> str:
        executor = await QueueExecutor.open(pg_store, pg_url, settings=settings)
        try:
            await executor.start(scoped, branch.id)  # intent + the first slice, queued
            finishing = RunLeases(pg_store, owner="a slice handing over")
            finishing.take(branch.id)  # its successor is queued, its lease not yet released
            answer = await executor.pause(scoped, branch.id)
            finishing.release(branch.id)
            assert executor.intents.read(branch.id) is not None  # not settled by the pause
            app = make_app(pg_url, settings)
            register(app)
            ctx = new_context(pg_store, app, settings)
            async with app.open_async():
                await app.run_worker_async(
                    queues=[QUEUE], wait=False, additional_context={CONTEXT_KEY: ctx}
                )
            return answer
        finally:
            await executor.close()

    assert asyncio.run(scenario()) == "pausing"
    after = pg_store.get_branch(branch.id)
    assert (after.head_seq, after.status) == (branch.head_seq, BranchStatus.PAUSED)
    assert RunIntents(pg_store).read(branch.id) is None  # the queued slice settled it
