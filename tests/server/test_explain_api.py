"""POST /v1/branches/{id}/injections/explain over real HTTP: per-agent readings, a verdict,
nothing written, tenant-scoped, problem+json on bad input."""

from __future__ import annotations

import httpx
import pytest

from tests.server.api_support import all_events, assert_problem, create, run_to_end
from tests.server.conftest import LiveServer

FLOOD = (
    "Breaking news: the river rose two metres overnight and flooded the car park; "
    "the insurer says the barrier would have prevented it"
)


@pytest.fixture
def client(live_server: LiveServer) -> httpx.Client:
    return live_server.client(live_server.make_key("explain-tests", "owner"))


def _explain(client: httpx.Client, branch_id: str, body: dict) -> httpx.Response:
    return client.post(f"/v1/branches/{branch_id}/injections/explain", json=body)


def test_explain_reads_the_flood_news_as_pro_for_every_resident(client: httpx.Client) -> None:
    root = create(client, "town-hall")["root_branch"]
    run_to_end(client, root["id"], steps=4)
    before = client.get("/v1/branches").json()
    events_before = all_events(client, root["id"])

    r = _explain(client, root["id"], {"content": FLOOD, "at_step": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["branch_id"] == root["id"] and body["arguments_declared"] is True
    assert body["embedder"] != "none"
    assert [a["agent_id"] for a in body["agents"]][:2] == ["mayor", "shop"]
    for agent in body["agents"]:
        assert agent["direction"] > 0 and agent["effective"], agent
        assert agent["effect"] == "leans for" and agent["reason"].startswith("closest to pro")
    assert "expects an effect" in body["verdict"]

    nothing = _explain(client, root["id"], {"content": "A new coffee shop sells good bagels."})
    assert nothing.status_code == 200
    assert not any(a["effective"] for a in nothing.json()["agents"])
    assert "reads no direction in this text for anyone" in nothing.json()["verdict"]

    direct = _explain(
        client,
        root["id"],
        {"content": "hi", "strategy": "direct", "targets": ["retiree"], "fields": {"stance": 1}},
    )
    assert [a["agent_id"] for a in direct.json()["agents"]] == ["retiree"]
    assert direct.json()["agents"][0]["source"] == "stance"

    assert client.get("/v1/branches").json() == before
    assert all_events(client, root["id"]) == events_before


def test_explain_bad_input_is_a_problem(client: httpx.Client, live_server: LiveServer) -> None:
    root = create(client, "negotiation")["root_branch"]
    problem = assert_problem(_explain(client, root["id"], {"content": ""}), 422)
    assert any("content" in e["field"] for e in problem["errors"])
    problem = assert_problem(
        _explain(client, root["id"], {"content": "x", "targets": ["ghost"], "strategy": "direct"}),
        422,
    )
    assert "ghost" in problem["detail"]
    assert_problem(_explain(client, root["id"], {"content": "x", "at_step": 50}), 409)
    assert_problem(_explain(client, "nope", {"content": "x"}), 404)
    stranger = live_server.client(live_server.make_key("explain-stranger", "owner"))
    assert_problem(_explain(stranger, root["id"], {"content": "x"}), 404)
    viewer = live_server.client(live_server.make_key("explain-tests", "viewer"))
    assert _explain(viewer, root["id"], {"content": "x"}).status_code == 200
