"""2 API replicas + 3 workers, all separate processes on one PostgreSQL schema: branches
started through either replica run to the end on the workers, spread over them, and each
branch's hash chain equals the same fork run in-process with the same seed."""

from __future__ import annotations

import os

import pytest

from aegntix.timeline.sqlstore import SqlStore
from tests.workers.support import (
    Cluster,
    all_done,
    dense,
    hashes,
    reference,
    town_hall,
    verify_ok,
    wait_for,
)

#: 50 in the full run; AEGNTIX_WORKER_TEST_BRANCHES lowers it on a busy machine.
BRANCHES = int(os.environ.get("AEGNTIX_WORKER_TEST_BRANCHES", "50"))

pytestmark = pytest.mark.slow


def test_branches_on_three_workers_equal_in_process_runs(cluster: Cluster, db: SqlStore) -> None:
    replicas, workers = cluster.start(serves=2, workers=[4, 4, 4])
    clients = [r.client() for r in replicas]
    r = clients[0].post(
        "/v1/scenarios", content=town_hall(), headers={"content-type": "application/yaml"}
    )
    assert r.status_code == 201, r.text
    root = r.json()["root_branch"]["id"]
    seeds = list(range(1, BRANCHES + 1))
    branch_of: dict[int, str] = {}
    for i, seed in enumerate(seeds):
        client = clients[i % 2]
        made = client.post(f"/v1/branches/{root}/fork", json={"at_step": 0, "seed": seed})
        assert made.status_code == 201, made.text
        branch_of[seed] = made.json()["id"]
    for i, seed in enumerate(seeds):  # started through both replicas
        started = clients[(i + 1) % 2].post(f"/v1/branches/{branch_of[seed]}/run")
        assert started.status_code == 202, started.text
        assert started.json()["status"] == "running"  # workers are alive: not "queued"
    ids = list(branch_of.values())

    wait_for("every branch done", lambda: all_done(clients[1], ids), timeout=600)

    for seed, branch_id in branch_of.items():
        chain = hashes(db, branch_id)
        assert dense(chain), branch_id
        assert chain == reference(db, root, seed), f"seed {seed} diverged on the workers"
    # the work was spread: slices of these branches ran on more than one worker
    ran_on = {
        line["branch"]
        for w in workers
        for line in w.lines()
        if line.get("event") in {"slice done", "run settled"}
    }
    assert set(ids) <= ran_on
    busy = [w for w in workers if any(line.get("event") == "slice done" for line in w.lines())]
    assert len(busy) >= 2, "every slice ran on one worker"
    verify_ok(cluster.db)
    for client in clients:
        client.close()
