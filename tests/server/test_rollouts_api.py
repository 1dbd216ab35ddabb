"""Rollout sets over real HTTP: create (202, runs in the background), progress, members,
pairing with a control, continue/extend, validation and tenant isolation."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, update

from aegntix.server.app import create_app
from aegntix.timeline import open_store
from aegntix.timeline.schema import rollout_members, rollout_sets
from tests.server.api_support import assert_problem, create, run_to_end
from tests.server.conftest import LiveServer, _serve, serving

NEWS = {"content": "The river flooded the car park.", "fields": {"stance": 0.9}}


def wait_done(client: httpx.Client, set_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(f"/v1/rollouts/{set_id}").json()
        if not body["running"]:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"rollout set {set_id} still running: {body}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def town(live_server: LiveServer) -> tuple[httpx.Client, str]:
    client = live_server.client(live_server.make_key("rollouts-a", "owner"))
    root = create(client, "town-hall")["root_branch"]
    run_to_end(client, root["id"], steps=3)
    return client, root["id"]


def test_create_runs_in_the_background_paired_with_a_control(
    town: tuple[httpx.Client, str],
) -> None:
    client, root = town
    r = client.post(
        f"/v1/branches/{root[:6]}/rollouts", json={"at_step": 2, "n": 3, "injection": NEWS}
    )
    assert r.status_code == 202, r.text
    made = r.json()
    assert made["n"] == 3 and len(made["seeds"]) == 3 and made["control_id"]
    assert made["progress"]["total"] == 3
    done = wait_done(client, made["id"])
    assert done["status"] == "done" and done["progress"] == {"done": 3, "total": 3}
    control = wait_done(client, made["control_id"])
    assert control["status"] == "done" and control["injection"] is None
    assert control["seeds"] == made["seeds"]

    members = client.get(f"/v1/rollouts/{made['id'][:6]}/members").json()
    twins = client.get(f"/v1/rollouts/{made['control_id']}/members").json()
    assert [m["seed"] for m in members] == made["seeds"] == [m["seed"] for m in twins]
    for m, c in zip(members, twins, strict=True):
        assert m["status"] == "done" and isinstance(m["outcomes"]["approved"], bool)
        branch = client.get(f"/v1/branches/{m['branch_id']}").json()
        twin = client.get(f"/v1/branches/{c['branch_id']}").json()
        assert branch["parent_id"] == twin["parent_id"] == root
        assert branch["fork_seq"] == twin["fork_seq"] and branch["seed"] == twin["seed"]
        first = client.get(
            f"/v1/branches/{m['branch_id']}/events", params={"from_seq": branch["fork_seq"] + 1}
        ).json()["events"][0]
        assert first["kind"] == "injection" and first["payload"]["content"] == NEWS["content"]
        # the control member is the plain fork with that seed, run alone
        alone = client.post(
            f"/v1/branches/{root}/fork", json={"at_step": 2, "seed": c["seed"]}
        ).json()
        run_to_end(client, alone["id"])
        assert client.get(f"/v1/branches/{alone['id']}").json()["head_hash"] == c["head_hash"]

    listed = {s["id"] for s in client.get("/v1/rollouts").json()}
    assert {made["id"], made["control_id"]} <= listed

    extended = client.post(f"/v1/rollouts/{made['id']}/extend", json={"to": 4})
    assert extended.status_code == 202, extended.text
    assert wait_done(client, made["id"])["progress"] == {"done": 4, "total": 4}
    after = client.get(f"/v1/rollouts/{made['id']}/members").json()
    assert [m["head_hash"] for m in after[:3]] == [m["head_hash"] for m in members]
    again = client.post(f"/v1/rollouts/{made['id']}/continue")
    assert again.status_code == 202 and wait_done(client, made["id"])["status"] == "done"
    assert client.get(f"/v1/rollouts/{made['id']}/members").json() == after


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"at_step": 1, "n": 0}, 422, "n"),
        ({"at_step": 1, "n": 1001}, 422, "n"),
        ({"at_step": 1}, 422, "n"),
        ({"at_step": 99, "n": 2}, 409, None),
        ({"at_step": 1, "n": 2, "injection": {"content": "hi", "targets": ["nobody"]}}, 422, None),
    ],
)
def test_bad_requests_are_problems_and_write_nothing(
    town: tuple[httpx.Client, str], body: dict[str, Any], status: int, field: str | None
) -> None:
    client, root = town
    before = len(client.get("/v1/rollouts").json()), len(client.get("/v1/branches").json())
    problem = assert_problem(client.post(f"/v1/branches/{root}/rollouts", json=body), status)
    if field is not None:
        assert field in [e["field"].split(".")[-1] for e in problem["errors"]], problem
    after = len(client.get("/v1/rollouts").json()), len(client.get("/v1/branches").json())
    assert after == before


def test_another_tenant_gets_404(live_server: LiveServer, town: tuple[httpx.Client, str]) -> None:
    client, root = town
    made = client.post(f"/v1/branches/{root}/rollouts", json={"at_step": 1, "n": 1}).json()
    wait_done(client, made["id"])
    other = live_server.client(live_server.make_key("rollouts-b", "owner"))
    for path in (f"/v1/rollouts/{made['id']}", f"/v1/rollouts/{made['id']}/members"):
        assert_problem(other.get(path), 404)
    assert_problem(other.post(f"/v1/rollouts/{made['id']}/continue"), 404)
    assert_problem(other.post(f"/v1/rollouts/{made['id']}/extend", json={"to": 2}), 404)
    assert_problem(other.post(f"/v1/branches/{root}/rollouts", json={"at_step": 1, "n": 1}), 404)
    assert other.get("/v1/rollouts").json() == []


def test_stats_give_the_effect_against_the_control(town: tuple[httpx.Client, str]) -> None:
    client, root = town
    made = client.post(
        f"/v1/branches/{root}/rollouts", json={"at_step": 2, "n": 4, "injection": NEWS}
    ).json()
    wait_done(client, made["id"])
    wait_done(client, made["control_id"])
    r = client.get(f"/v1/rollouts/{made['id'][:6]}/stats")
    assert r.status_code == 200, r.text
    stats = r.json()
    assert stats["vs"] == made["control_id"] and stats["comparison"] == "paired"
    effect = stats["outcomes"]["mean_stance"]["effect"]
    assert effect["difference"] > 0 and "with the intervention vs" in effect["sentence"]
    assert stats["outcomes"]["approved"]["summary"]["kind"] == "yes/no"
    unknown = client.get(f"/v1/rollouts/{made['id']}/stats", params={"vs": "ffffffffffff"})
    assert unknown.status_code == 404


def test_a_set_that_cannot_fork_fails_and_says_why_after_a_restart(tmp_path: Path) -> None:
    """The reason is the set's, in the database: a restarted server (or another replica)
    still tells it, as the UI's set view and the CLI show it."""
    with serving(tmp_path) as server, server.client(server.owner_key) as client:
        root = create(client, "town-hall")["root_branch"]["id"]
        run_to_end(client, root, steps=2)
        made = client.post(f"/v1/branches/{root}/rollouts", json={"at_step": 1, "n": 2}).json()
        wait_done(client, made["id"])
        # members recorded by an older version with an injection that no longer validates
        broken = {"content": "The bridge is closed.", "strategy": "telepathy"}
        server.store.write(
            lambda c: c.execute(
                update(rollout_sets)
                .where(rollout_sets.c.id == made["id"])
                .values(injection=json.dumps(broken))
            )
        )
        server.store.write(
            lambda c: c.execute(
                delete(rollout_members).where(rollout_members.c.set_id == made["id"])
            )
        )
        r = client.post(f"/v1/rollouts/{made['id']}/continue")
        assert r.status_code == 202, r.text
        failed = wait_done(client, made["id"])
        assert failed["status"] == "failed" and "telepathy" in failed["error"]
        key = server.owner_key
    store = open_store(tmp_path / "server.db")  # the server again: a new process's state
    server_again, thread, port = _serve(create_app(store))
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}
        ) as client:
            after = client.get(f"/v1/rollouts/{made['id']}", timeout=60).json()
        assert after["status"] == "failed" and after["error"] == failed["error"]
    finally:
        server_again.should_exit = True
        thread.join(15)
        store.close()
