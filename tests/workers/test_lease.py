"""Two workers never run one branch at once, under contention: a branch's run is queued as
one proper slice plus five duplicates without the queue's per-branch lock (as a queue fault
would leave them), three workers with four slots each take them together, and the branch is
leased by another process meanwhile. Nobody appends while it is held; once released exactly
one slice at a time advances it (no append ever loses a race on the head), and the branch
ends equal to an in-process run."""

from __future__ import annotations

import asyncio

import pytest

from aegntix.timeline.leases import RunLeases
from aegntix.timeline.sqlstore import SqlStore
from aegntix.workers.intents import RunIntents
from aegntix.workers.queue import SLICE_TASK, QueueSettings, defer_slice, make_app
from tests.workers.support import Cluster, dense, hashes, reference, town_hall, wait_for

pytestmark = pytest.mark.slow

DUPLICATES = 5


async def test_one_slice_at_a_time_per_branch_under_contention(
    cluster: Cluster, db: SqlStore
) -> None:
    # a lease that cannot lapse while a loaded worker's loop stalls: then a slice losing its
    # branch (the assertion at the end) can only mean two slices ran it at once
    cluster.env["AEGNTIX_LEASE_SECONDS"] = "20"
    (replica,), workers = cluster.start(serves=1, workers=[4, 4, 4])
    api = replica.client()
    r = api.post(
        "/v1/scenarios", content=town_hall(30), headers={"content-type": "application/yaml"}
    )
    root = r.json()["root_branch"]["id"]
    branch = api.post(f"/v1/branches/{root}/fork", json={"at_step": 0, "seed": 7}).json()["id"]
    holder = RunLeases(db, ttl=600)
    holder.take(branch)  # another process runs it (e.g. `aegntix continue`)
    head = db.get_branch(branch).head_seq

    intent = RunIntents(db).begin(branch, None)
    kwargs = {"branch_id": branch, "tenant_id": intent.tenant_id, "token": intent.token}
    app = make_app(cluster.db, QueueSettings())
    async with app.open_async():
        assert await defer_slice(app, kwargs)
        for _ in range(DUPLICATES):  # no lock, no queueing lock: all runnable at once
            await app.configure_task(SLICE_TASK, queue="aegntix").defer_async(**kwargs)

    def lines(event: str) -> int:
        return sum(line.get("event") == event for w in workers for line in w.lines())

    refused = "branch leased elsewhere; slice retried later"
    await asyncio.to_thread(wait_for, "workers contending", lambda: lines(refused) >= 3)
    assert db.get_branch(branch).head_seq == head  # nobody wrote while it was held
    holder.release(branch)

    def done() -> bool:
        return bool(api.get(f"/v1/branches/{branch}/status").json()["status"] == "done")

    await asyncio.to_thread(wait_for, "the run done", done)
    chain = hashes(db, branch)
    assert dense(chain)
    assert chain == await asyncio.to_thread(reference, db, root, 7)
    # the lease kept slices apart: no append ever found the head moved under it
    assert lines("slice lost its branch to another writer") == 0
    api.close()
