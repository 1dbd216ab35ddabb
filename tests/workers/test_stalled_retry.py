"""The periodic retrier hands a dead worker's slice back exactly once. Under load two of its
runs overlap and list the same stalled job; the slower one used to take the job it could no
longer retry (already waiting again) for one whose successor was queued, and closed it as
failed: the branch's chain ended and the run read ``running`` for ever."""

from __future__ import annotations

import asyncio

from aegntix.engine import start_scenario
from aegntix.model.loading import load_scenario
from aegntix.timeline import SqlStore
from aegntix.workers.queue import (
    QUEUE,
    QueueSettings,
    defer_slice,
    ensure_schema,
    hand_back,
    make_app,
    slice_lock,
)
from aegntix.workers.slices import register
from tests.support import EXAMPLES


def test_two_retriers_of_one_stalled_slice_put_it_back_once(
    pg_url: str, pg_store: SqlStore
) -> None:
    branch = start_scenario(pg_store, load_scenario(EXAMPLES / "town-hall.yaml"))
    app = make_app(pg_url, QueueSettings())
    register(app)
    kwargs = {"branch_id": branch.id, "tenant_id": branch.tenant_id, "token": "t"}

    async def scenario() -> tuple[list[int], list[str]]:
        await ensure_schema(pg_url)
        async with app.open_async():
            manager = app.job_manager
            assert await defer_slice(app, kwargs)
            worker_id = await manager.register_worker()
            taken = await manager.fetch_job(queues=[QUEUE], worker_id=worker_id)
            assert taken is not None  # "doing" on a worker that then goes silent
            await manager.unregister_worker(worker_id)  # no heartbeat: stalled at once
            stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=0))
            assert [job.id for job in stalled] == [taken.id]
            # both retriers listed it before either handed it back
            handed = [await hand_back(app, stalled), await hand_back(app, stalled)]
            jobs = await manager.list_jobs_async(lock=slice_lock(branch.id))
            return handed, [job.status for job in jobs]

    handed, statuses = asyncio.run(scenario())
    assert handed == [1, 0]
    assert statuses == ["todo"]  # waiting for a worker again, not failed
