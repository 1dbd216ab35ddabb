"""A rollout set on PostgreSQL outlives any one process: ``kill -9`` of the API replica that
started it, then of the worker driving it, mid-set, and the set still ends ``done`` with no
user action — every member's chain dense and verified (no member ran twice), and the same
statistics as an uninterrupted set with the same seeds (real processes)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from aegntix.timeline.schema import set_leases
from aegntix.timeline.sqlstore import SqlStore
from tests.workers.support import Cluster, dense, hashes, new_town_hall, verify_ok, wait_for

pytestmark = pytest.mark.slow

N = 6
SEED_BASE = 4242


def _set(api: httpx.Client, set_id: str) -> dict[str, Any]:
    r = api.get(f"/v1/rollouts/{set_id}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def _driver_pid(db: SqlStore, set_id: str) -> int | None:
    """The pid of the worker driving the set (its lease's owner is ``host:pid:random``)."""
    with db.reading() as conn:
        owner = conn.execute(
            select(set_leases.c.owner).where(set_leases.c.set_id == set_id)
        ).scalar()
    parts = str(owner).split(":") if owner else []
    return int(parts[1]) if len(parts) == 3 else None


def _under_way(api: httpx.Client, set_id: str) -> bool:
    """Every member forked, one a few steps on, none done yet."""
    members = api.get(f"/v1/rollouts/{set_id}/members").json()
    if len(members) < N:
        return False
    return max(m["head_step"] for m in members) >= 3 and all(m["status"] != "done" for m in members)


def _done(api: httpx.Client, set_id: str) -> bool:
    got = _set(api, set_id)
    return got["status"] == "done" and got["running"] is False


def _outcomes(api: httpx.Client, set_id: str) -> list[tuple[int, Any]]:
    members = api.get(f"/v1/rollouts/{set_id}/members").json()
    return [(m["seed"], m["outcomes"]) for m in members]


def test_a_set_finishes_after_its_replica_and_its_driver_die(
    cluster: Cluster, db: SqlStore
) -> None:
    (a, b), started = cluster.start(serves=2, workers=[2, 4])
    workers = {w.proc.pid: w for w in started}
    api_a, api_b = a.client(), b.client()
    root = new_town_hall(api_a, 16)
    body = {"n": N, "at_step": 0, "seed_base": SEED_BASE}
    made = api_a.post(f"/v1/branches/{root}/rollouts", json=body)
    assert made.status_code == 202, made.text
    set_id = made.json()["id"]

    wait_for("a worker to drive the set", lambda: _driver_pid(db, set_id) in workers, 120)
    cluster.kill9(a.proc)  # the replica that started the set: it drives nothing
    wait_for("members under way", lambda: _under_way(api_b, set_id), 120)
    driver = _driver_pid(db, set_id)
    assert driver in workers
    cluster.kill9(workers[driver].proc)  # mid-set: its lease lapses, the other worker adopts
    statuses = [m["status"] for m in api_b.get(f"/v1/rollouts/{set_id}/members").json()]
    assert statuses.count("done") < N, "the set ended before the kill: nothing was tested"
    wait_for("the set done with no user action", lambda: _done(api_b, set_id), 600)

    members = api_b.get(f"/v1/rollouts/{set_id}/members").json()
    assert [m["status"] for m in members] == ["done"] * N
    for m in members:
        chain = hashes(db, m["branch_id"])
        assert dense(chain) and chain, m  # no gap, no duplicate: no member ran twice
    verify_ok(cluster.db)

    # the same seeds, never interrupted: the same futures, the same statistics
    again = api_b.post(f"/v1/branches/{root}/rollouts", json=body)
    assert again.status_code == 202, again.text
    twin = again.json()["id"]
    wait_for("the uninterrupted twin done", lambda: _done(api_b, twin), 600)
    assert _outcomes(api_b, twin) == _outcomes(api_b, set_id)
    stats = [api_b.get(f"/v1/rollouts/{s}/stats").json() for s in (set_id, twin)]
    assert stats[0]["outcomes"] and stats[0]["outcomes"] == stats[1]["outcomes"]
    api_a.close()
    api_b.close()
