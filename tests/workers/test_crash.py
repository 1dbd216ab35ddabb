"""kill -9 of workers in the middle of their slices, repeatedly: every branch still runs to
the end on the other workers, with no gap and no duplicate, its chain equal to the same fork
run in-process, and ``aegntix verify`` passes."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from aegntix.timeline.schema import run_leases
from aegntix.timeline.sqlstore import SqlStore
from tests.workers.support import (
    Cluster,
    Worker,
    all_done,
    dense,
    hashes,
    reference,
    town_hall,
    verify_ok,
    wait_for,
)

pytestmark = pytest.mark.slow

BRANCHES = 4
KILLS = 3


def _holders(db: SqlStore) -> dict[int, list[str]]:
    """Worker pid → branches it holds a live lease on."""
    with db.reading() as conn:
        rows = conn.execute(
            select(run_leases.c.branch_id, run_leases.c.owner).where(
                run_leases.c.expires_at > time.time()
            )
        ).all()
    held: dict[int, list[str]] = {}
    for branch_id, owner in rows:
        held.setdefault(int(owner.split(":")[1]), []).append(branch_id)
    return held


def test_kill_9_mid_slice_repeatedly_loses_and_duplicates_nothing(
    cluster: Cluster, db: SqlStore
) -> None:
    cluster.env.update({"AEGNTIX_SLICE_STEPS": "1000", "AEGNTIX_SLICE_MS": "1500"})
    (replica,), workers = cluster.start(serves=1, workers=[2, 2, 2])
    api = replica.client()
    r = api.post(
        "/v1/scenarios", content=town_hall(200), headers={"content-type": "application/yaml"}
    )
    assert r.status_code == 201, r.text
    root = r.json()["root_branch"]["id"]
    branch_of = {}
    for seed in range(1, BRANCHES + 1):
        made = api.post(f"/v1/branches/{root}/fork", json={"at_step": 0, "seed": seed})
        branch_of[seed] = made.json()["id"]
    for branch_id in branch_of.values():
        assert api.post(f"/v1/branches/{branch_id}/run").status_code == 202
    ids = list(branch_of.values())

    killed: list[tuple[int, list[str]]] = []
    for _ in range(KILLS):
        victim: list[tuple[Worker, list[str]]] = []

        def one_holds_a_slice(victim: list[tuple[Worker, list[str]]] = victim) -> bool:
            held = _holders(db)
            for w in workers:
                if held.get(w.proc.pid):
                    victim.append((w, held[w.proc.pid]))
                    return True
            return False

        wait_for("a worker in the middle of a slice", one_holds_a_slice, timeout=300)
        worker, branches = victim[0]
        Cluster.kill9(worker.proc)  # mid-slice: it holds a live lease on these branches
        killed.append((worker.proc.pid, branches))
        workers.remove(worker)
        workers.append(cluster.worker(concurrency=2, wait=False))  # the others go on meanwhile

    wait_for("every branch done", lambda: all_done(api, ids), timeout=600)
    assert len(killed) == KILLS
    for seed, branch_id in branch_of.items():
        chain = hashes(db, branch_id)
        assert dense(chain), f"gap or duplicate in {branch_id}"
        assert chain == reference(db, root, seed), f"seed {seed} diverged after the kills"
    verify_ok(cluster.db)
    api.close()
