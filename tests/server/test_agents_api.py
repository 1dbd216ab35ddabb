"""Persistent agents over real HTTP: create, use in a scenario, run, keep a branch, see the
memories and why an agent said what it said; and the errors."""

from __future__ import annotations

import uuid

import httpx
import pytest
import yaml

from tests.server.api_support import (
    all_events,
    assert_problem,
    example_text,
    run_to_end,
    with_persistent_buyer,
)
from tests.server.conftest import LiveServer


@pytest.fixture
def client(live_server: LiveServer) -> httpx.Client:
    return live_server.client(live_server.make_key("agents-api", "owner"))


def test_a_persistent_agent_lives_a_scenario_and_keeps_a_branch(client: httpx.Client) -> None:
    made = client.post(
        "/v1/agents",
        json={"id": "dana", "name": "Dana", "persona": {"agreeableness": 0.6, "openness": 0.7}},
    )
    assert made.status_code == 201, made.text
    assert made.json()["version"] == 0 and made.json()["consistency"] == 1.0
    assert [p["id"] for p in client.get("/v1/agents").json()] == ["dana"]

    r = client.post(
        "/v1/scenarios",
        content=with_persistent_buyer("dana"),
        headers={"content-type": "application/yaml"},
    )
    assert r.status_code == 201, r.text
    root = r.json()["root_branch"]
    buyer = next(a for a in r.json()["scenario"]["agents"] if a["id"] == "buyer")
    assert buyer["profile"]["version"] == 0  # pinned
    run_to_end(client, root["id"])

    mem = client.get(f"/v1/branches/{root['id']}/memories", params={"agent": "buyer"}).json()
    assert mem["total"] > 0 and all(m["agent_id"] == "buyer" for m in mem["memories"])
    said = next(
        e
        for e in all_events(client, root["id"])
        if e["kind"] == "message" and e["agent_id"] == "buyer" and e["step"] >= 2
    )
    why = client.get(f"/v1/branches/{root['id']}/events/{said['seq']}/why").json()
    assert why["agent_id"] == "buyer" and why["recalled"]
    first = why["recalled"][0]
    assert set(first) >= {"score", "recency", "importance", "relevance", "memory"}
    assert first["memory"]["text"]

    kept = client.post(f"/v1/branches/{root['id']}/commit", json={})
    assert kept.status_code == 201, kept.text
    assert kept.json()[0]["version"] == 1 and kept.json()[0]["memories"] == mem["total"]
    again = client.post(f"/v1/branches/{root['id']}/commit")
    assert_problem(again, 409)

    detail = client.get("/v1/agents/dana").json()
    assert detail["version"] == 1 and len(detail["versions"]) == 2
    (part,) = detail["history"]
    assert part["kept_branch"] == root["id"] and part["agent_id"] == "buyer"
    memories = client.get("/v1/agents/dana/memories").json()
    assert memories["total"] == mem["total"]
    assert all(m["tier"] == "long-term" for m in memories["memories"])

    renamed = client.patch("/v1/agents/dana", json={"name": "Dana Whitfield"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Dana Whitfield"
    assert client.delete("/v1/agents/dana").status_code == 204
    assert_problem(client.get("/v1/agents/dana"), 404)


def test_bad_requests_name_the_field(client: httpx.Client) -> None:
    bad = client.post("/v1/agents", json={"id": "x", "name": "X", "persona": {"openness": 2}})
    body = assert_problem(bad, 422)
    assert any("openness" in e["field"] for e in body["errors"])
    assert_problem(client.post("/v1/agents", json={"id": "9lives", "name": "Cat"}), 422)
    before = client.get("/v1/scenarios").json()
    missing = client.post(
        "/v1/scenarios",
        content=with_persistent_buyer("nobody"),
        headers={"content-type": "application/yaml"},
    )
    assert_problem(missing, 404)
    assert client.get("/v1/scenarios").json() == before  # nothing half-written
    r = client.post(
        "/v1/scenarios",
        content=example_text("negotiation"),
        headers={"content-type": "application/yaml"},
    )
    root = r.json()["root_branch"]
    assert_problem(client.post(f"/v1/branches/{root['id']}/commit"), 422)  # no profiles
    run_to_end(client, root["id"], steps=1)
    message = next(e for e in all_events(client, root["id"]) if e["kind"] == "message")
    assert_problem(client.get(f"/v1/branches/{root['id']}/events/{message['seq']}/why"), 422)


def test_a_commit_that_conflicts_on_its_second_agent_keeps_nothing(
    client: httpx.Client,
) -> None:
    """All or nothing: the seller's profile is written first, then the buyer's conflicts
    (it already keeps a branch of this scenario): 409, and the seller has no new version."""
    suffix = uuid.uuid4().hex[:8]
    seller, buyer = f"sam-{suffix}", f"dana-{suffix}"
    for pid in (seller, buyer):
        assert client.post("/v1/agents", json={"id": pid, "name": pid}).status_code == 201
    spec = yaml.safe_load(with_persistent_buyer(buyer))
    next(a for a in spec["agents"] if a["id"] == "seller")["profile"] = seller
    r = client.post(
        "/v1/scenarios",
        content=yaml.safe_dump(spec).encode(),
        headers={"content-type": "application/yaml"},
    )
    assert r.status_code == 201, r.text
    root = r.json()["root_branch"]
    run_to_end(client, root["id"], steps=2)
    fork = client.post(f"/v1/branches/{root['id']}/fork", json={"at_step": 1}).json()
    kept = client.post(f"/v1/branches/{root['id']}/commit", json={"agents": ["buyer"]})
    assert kept.status_code == 201, kept.text
    seller_before = client.get(f"/v1/agents/{seller}").json()

    refused = client.post(f"/v1/branches/{fork['id']}/commit", json={})
    assert buyer in assert_problem(refused, 409)["detail"]

    seller_after = client.get(f"/v1/agents/{seller}").json()
    assert seller_after == seller_before
    assert seller_after["version"] == 0 and len(seller_after["versions"]) == 1
    assert client.get(f"/v1/agents/{seller}/memories").json()["total"] == 0
    # and the seller can still keep that branch on its own
    alone = client.post(f"/v1/branches/{fork['id']}/commit", json={"agents": ["seller"]})
    assert alone.status_code == 201, alone.text
    assert alone.json()[0]["version"] == 1
