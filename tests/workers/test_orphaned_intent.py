"""A start that died between its two writes — the run intent recorded, its first slice not
queued — left a branch reading running for ever (a driver killed mid-start did this to one
member of a set in a loaded test run). The periodic job queues the slice the start would
have, once the intent is older than the stalled-worker time, and the run goes to the end."""

from __future__ import annotations

import asyncio

from sqlalchemy import update

from aegntix.engine import start_scenario
from aegntix.model.events import BranchStatus
from aegntix.model.loading import load_scenario
from aegntix.timeline import SqlStore
from aegntix.timeline.leases import RunLeases
from aegntix.timeline.schema import run_intents
from aegntix.workers.intents import RunIntents
from aegntix.workers.orphans import requeue_orphaned
from aegntix.workers.queue import (
    QUEUE,
    QueueSettings,
    defer_slice,
    ensure_schema,
    make_app,
    slice_lock,
)
from aegntix.workers.slices import CONTEXT_KEY, new_context, register
from tests.support import EXAMPLES


def _age(store: SqlStore, branch_id: str, seconds: float) -> None:
    store.write(
        lambda c: c.execute(
            update(run_intents)
            .where(run_intents.c.branch_id == branch_id)
            .values(updated_at=run_intents.c.updated_at - seconds)
        )
    )


def test_a_run_whose_start_died_before_queueing_is_queued_and_runs(
    pg_url: str, pg_store: SqlStore
) -> None:
    town = load_scenario(EXAMPLES / "town-hall.yaml")
    orphan, fresh, queued = (start_scenario(pg_store, town) for _ in range(3))
    intents, leases, settings = RunIntents(pg_store), RunLeases(pg_store), QueueSettings()
    for branch in (orphan, fresh, queued):
        intents.begin(branch.id, None)  # the start's first write; it "died" before the second
    for branch in (orphan, queued):
        _age(pg_store, branch.id, settings.stalled_s + 1)

    async def scenario() -> tuple[int, int, int]:
        await ensure_schema(pg_url)
        app = make_app(pg_url, settings)
        register(app)
        async with app.open_async():
            token = intents.read(queued.id)
            assert token is not None
            kwargs = {"branch_id": queued.id, "tenant_id": queued.tenant_id, "token": token.token}
            assert await defer_slice(app, kwargs)  # this one's start did queue its slice
            first = await requeue_orphaned(app, pg_store, leases, settings.stalled_s)
            again = await requeue_orphaned(app, pg_store, leases, settings.stalled_s)
            todo = await app.job_manager.list_jobs_async(lock=slice_lock(orphan.id), status="todo")
            ctx = new_context(pg_store, app, settings)
            await app.run_worker_async(
                queues=[QUEUE], wait=False, additional_context={CONTEXT_KEY: ctx}
            )
            return first, again, len(list(todo))

    first, again, todo = asyncio.run(scenario())
    assert (first, again, todo) == (1, 0, 1)  # only the orphan, once: its slice then queued
    assert pg_store.get_branch(orphan.id).status is BranchStatus.DONE
    assert intents.read(orphan.id) is None  # settled by its last slice
    assert pg_store.get_branch(queued.id).status is BranchStatus.DONE  # its own slice ran it
    assert intents.read(fresh.id) is not None  # a start within the grace is left alone
    assert pg_store.get_branch(fresh.id).head_step == 0
