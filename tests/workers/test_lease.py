"""Two workers never run one branch at once: while another process holds a branch's run
lease, three workers (four slices at a time each) keep trying and none appends a thing;
once it is released the run goes on and ends equal to an in-process run."""

from __future__ import annotations

import pytest

from aegntix.timeline.leases import RunLeases
from aegntix.timeline.sqlstore import SqlStore
from tests.workers.support import Cluster, dense, hashes, reference, town_hall, wait_for

pytestmark = pytest.mark.slow


def test_workers_wait_for_a_branch_held_elsewhere(cluster: Cluster, db: SqlStore) -> None:
    api = cluster.serve().client()
    workers = [cluster.worker() for _ in range(3)]
    r = api.post(
        "/v1/scenarios", content=town_hall(12), headers={"content-type": "application/yaml"}
    )
    root = r.json()["root_branch"]["id"]
    branch = api.post(f"/v1/branches/{root}/fork", json={"at_step": 0, "seed": 7}).json()["id"]
    holder = RunLeases(db, ttl=600)
    holder.take(branch)  # e.g. an `aegntix continue` in another process
    head = db.get_branch(branch).head_seq

    assert api.post(f"/v1/branches/{branch}/run").status_code == 202
    assert api.post(f"/v1/branches/{branch}/run").status_code == 409  # one run per branch

    def refused() -> int:
        return sum(
            line.get("event") == "branch leased elsewhere; slice retried later"
            for w in workers
            for line in w.lines()
        )

    wait_for("workers contending for the branch", lambda: refused() >= 3)
    assert db.get_branch(branch).head_seq == head  # nobody wrote while it was held
    assert api.get(f"/v1/branches/{branch}/status").json()["running"] is True

    holder.release(branch)
    wait_for(
        "the run done",
        lambda: api.get(f"/v1/branches/{branch}/status").json()["status"] == "done",
    )
    chain = hashes(db, branch)
    assert dense(chain)
    assert chain == reference(db, root, 7)
    api.close()
