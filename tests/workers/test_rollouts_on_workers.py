"""A rollout set (with its control) started through an API replica on PostgreSQL runs its
members on worker processes, in chunks, and settles ``done`` with every member done."""

from __future__ import annotations

import pytest

from aegntix.timeline.sqlstore import SqlStore
from tests.workers.support import Cluster, town_hall, wait_for

pytestmark = pytest.mark.slow


def test_a_rollout_set_runs_on_the_workers(cluster: Cluster, db: SqlStore) -> None:
    (replica,), workers = cluster.start(serves=1, workers=[4, 4])
    api = replica.client()
    r = api.post(
        "/v1/scenarios", content=town_hall(6), headers={"content-type": "application/yaml"}
    )
    root = r.json()["root_branch"]["id"]
    news = {"content": "The council publishes the full budget.", "strategy": "broadcast"}
    body = {"n": 6, "at_step": 0, "injection": news}
    made = api.post(f"/v1/branches/{root}/rollouts", json=body)
    assert made.status_code == 202, made.text
    set_id, control_id = made.json()["id"], made.json()["control_id"]

    def settled() -> bool:
        states = [api.get(f"/v1/rollouts/{s}").json()["status"] for s in (set_id, control_id)]
        return all(s == "done" for s in states)

    wait_for("both sets done", settled, timeout=600)
    members = api.get(f"/v1/rollouts/{set_id}/members").json()
    assert len(members) == 6 and all(m["status"] == "done" for m in members)
    settled_here = [line for w in workers for line in w.lines()]
    ran = {line["branch"] for line in settled_here if line.get("event") == "run settled"}
    assert {m["branch_id"] for m in members} <= ran  # on the workers, not in the API process
    api.close()
