"""Tenant isolation (invariant 6): every route of the OpenAPI schema, called by tenant B with
tenant A's real ids, answers 404 (or 403/401) and never shows A's data; and soft delete."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.server.api_support import (
    assert_problem,
    create,
    fill,
    operations,
    query_ids,
    request_kwargs,
    run_to_end,
)
from tests.server.conftest import LiveServer

REFUSED = {401, 403, 404}


@pytest.fixture(scope="module")
def tenants(live_server: LiveServer) -> dict[str, Any]:
    """Tenant 'iso-a' with a scenario, a run root, a fork and a key; 'iso-b' with its own."""
    a = live_server.client(live_server.make_key("iso-a", "owner"))
    root = create(a)["root_branch"]
    run_to_end(a, root["id"], steps=3)
    fork = a.post(f"/v1/branches/{root['id']}/fork", json={"at_step": 1}).json()
    key = a.post("/v1/keys", json={"role": "editor", "name": "a-key"}).json()
    agent = a.post("/v1/agents", json={"id": "iso-a-agent", "name": "A's agent"}).json()
    other = create(a)["root_branch"]  # a rollout set, in a scenario of its own
    run_to_end(a, other["id"], steps=1)
    rollouts = a.post(f"/v1/branches/{other['id']}/rollouts", json={"at_step": 1, "n": 1})
    assert rollouts.status_code == 202, rollouts.text
    b = live_server.client(live_server.make_key("iso-b", "owner"))
    b_root = create(b, "town-hall")["root_branch"]
    return {
        "a_ids": {
            "scenario_id": root["scenario_id"],
            "branch_id": root["id"],
            "fork_id": fork["id"],
            "key_id": key["id"],
            "key": key["key"],
            "profile_id": agent["id"],
            "set_id": rollouts.json()["id"],
            "seq": "3",
        },
        "b_branch": b_root["id"],
        "a_head": a.get(f"/v1/branches/{root['id']}").json(),
    }


@pytest.mark.parametrize("role", ["owner", "viewer"])
def test_foreign_ids_answer_404_on_every_route(
    live_server: LiveServer, tenants: dict[str, Any], role: str
) -> None:
    schema = httpx.get(f"{live_server.base_url}/openapi.json", timeout=60).json()
    a_ids = tenants["a_ids"]
    secrets = [
        a_ids[k] for k in ("scenario_id", "branch_id", "fork_id", "key_id", "profile_id", "set_id")
    ]
    b = live_server.client(live_server.make_key("iso-b", role))
    with_ids = 0
    for method, path, op in operations(schema):
        values = {**a_ids, "name": "negotiation"}
        queries = query_ids(op)
        takes_id = any(
            f"{{{p}}}" in path
            for p in ("scenario_id", "branch_id", "key_id", "profile_id", "set_id")
        )
        variants: list[dict[str, str]] = [{}]
        if queries == {"a", "b"}:  # both foreign, and one foreign beside one of B's own
            takes_id = True
            variants = [
                {"a": a_ids["branch_id"], "b": a_ids["fork_id"]},
                {"a": tenants["b_branch"], "b": a_ids["branch_id"]},
                {"a": a_ids["fork_id"], "b": tenants["b_branch"]},
            ]
        elif "scenario_id" in queries:
            takes_id = True
            variants = [{"scenario_id": a_ids["scenario_id"]}]
        for params in variants:
            r = b.request(
                method, fill(path, values), params=params, **request_kwargs(method, path, op)
            )
            text, sent = r.text, str(r.request.url)  # a 404 may echo the id it was sent
            leaked = [s for s in secrets if s in text and s not in sent]
            assert not leaked, f"{method} {path} {params}: {r.status_code} shows {leaked}"
            if takes_id:
                with_ids += 1
                assert r.status_code in REFUSED, f"{method} {path} {params}: {r.status_code}"
                if r.status_code == 404:
                    assert_problem(r, 404)
            else:
                assert r.status_code < 500, f"{method} {path}: {r.status_code} {text}"
    assert with_ids >= 20


def test_foreign_404_equals_missing_404(live_server: LiveServer, tenants: dict[str, Any]) -> None:
    b = live_server.client(live_server.make_key("iso-b", "owner"))
    foreign = b.get(f"/v1/branches/{tenants['a_ids']['branch_id']}")
    missing = b.get("/v1/branches/ffffffffffffffff")
    assert foreign.status_code == missing.status_code == 404
    strip = lambda r: {k: v for k, v in r.json().items() if k != "detail"}  # noqa: E731
    assert strip(foreign) == strip(missing)


def test_tenant_a_untouched(live_server: LiveServer, tenants: dict[str, Any]) -> None:
    a = live_server.client(live_server.make_key("iso-a", "owner"))
    a_ids = tenants["a_ids"]
    assert a.get(f"/v1/branches/{a_ids['branch_id']}").json() == tenants["a_head"]
    assert a.get(f"/v1/scenarios/{a_ids['scenario_id']}").status_code == 200
    branches = a.get("/v1/branches", params={"scenario_id": a_ids["scenario_id"]}).json()
    assert {x["id"] for x in branches} == {a_ids["branch_id"], a_ids["fork_id"]}
    assert live_server.client(a_ids["key"]).get("/v1/scenarios").status_code == 200


def test_soft_delete_hides_scenario_and_branches(live_server: LiveServer) -> None:
    owner = live_server.client(live_server.make_key("deleting", "owner"))
    root = create(owner)["root_branch"]
    run_to_end(owner, root["id"], steps=2)
    fork = owner.post(f"/v1/branches/{root['id']}/fork", json={"at_step": 1}).json()
    sid = root["scenario_id"]
    assert owner.post(f"/v1/branches/{fork['id']}/run").status_code == 202
    assert owner.delete(f"/v1/scenarios/{sid}").status_code == 204
    assert_problem(owner.get(f"/v1/scenarios/{sid}"), 404)
    assert sid not in {s["id"] for s in owner.get("/v1/scenarios").json()}
    for bid in (root["id"], fork["id"]):
        assert_problem(owner.get(f"/v1/branches/{bid}"), 404)
        assert_problem(owner.get(f"/v1/branches/{bid}/events"), 404)
        assert_problem(owner.post(f"/v1/branches/{bid}/run"), 404)
        assert_problem(owner.post(f"/v1/branches/{bid}/fork", json={"at_step": 0}), 404)
    assert not {root["id"], fork["id"]} & {b["id"] for b in owner.get("/v1/branches").json()}
    assert owner.get("/v1/branches/tree").json() == []
    assert_problem(owner.delete(f"/v1/scenarios/{sid}"), 404)
    # The events are still on disk (append-only), only hidden.
    kept = live_server.store.get_branch(root["id"])
    assert kept.head_step == 2
    assert len(list(live_server.store.events(root["id"]))) == kept.head_seq
