"""GET /v1/meta over real HTTP (authenticated, cacheable, read from the registries) and
injection strategies through the API: every registered one accepted, an unknown strategy
or a bad schedule a 422 naming the field and the valid choices, a gradual preview that
says who hears it when and matches what the injection then records."""

from __future__ import annotations

import httpx
import pytest

from aegntix.inject.registry import STRATEGIES
from aegntix.model.scenario import BIG_FIVE
from tests.server.api_support import all_events, assert_problem, create, run_to_end
from tests.server.conftest import LiveServer

NEWS = "An independent study finds the barrier will save homes and jobs."


@pytest.fixture
def client(live_server: LiveServer) -> httpx.Client:
    return live_server.client(live_server.make_key("meta-tests", "viewer"))


@pytest.fixture
def editor(live_server: LiveServer) -> httpx.Client:
    return live_server.client(live_server.make_key("meta-tests", "editor"))


def test_meta_lists_strategies_traits_and_brain_kinds(client: httpx.Client) -> None:
    r = client.get("/v1/meta")
    assert r.status_code == 200, r.text
    body = r.json()
    assert [s["name"] for s in body["strategies"]] == list(STRATEGIES)
    gradual = next(s for s in body["strategies"] if s["name"] == "gradual")
    schedule = next(p for p in gradual["parameters"] if p["name"] == "schedule")
    assert schedule["required"] and "steps" in schedule["description"]
    assert body["traits"]["big_five"] == list(BIG_FIVE)
    assert body["brain_kinds"] == ["rules", "openai", "anthropic"]
    assert {"mesh", "small_world", "hierarchy", "groups"} <= set(body["topology_kinds"])
    assert {"negotiation", "opinion", "incident"} <= set(body["mechanics"])
    assert len(r.content) < 4096
    # cacheable: an ETag, and the same ETag answers 304 with no body
    etag = r.headers["etag"]
    assert "max-age" in r.headers["cache-control"]
    again = client.get("/v1/meta", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""


def test_meta_needs_a_key(live_server: LiveServer) -> None:
    anonymous = live_server.client(None)
    assert_problem(anonymous.get("/v1/meta"), 401)


def test_the_openapi_enum_is_the_registry(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    injection = schema["components"]["schemas"]["Injection"]["properties"]["strategy"]
    assert injection["enum"] == list(STRATEGIES)


@pytest.mark.parametrize(
    ("injection", "field", "words"),
    [
        ({"strategy": "viral"}, "strategy", "is not one of direct, broadcast, gradual, organic"),
        (
            {"strategy": "organic", "schedule": {"source": "agent:nobody"}},
            "schedule.source",
            "is not 'news' or agent:<id> of a known agent",
        ),
        ({"strategy": "gradual"}, "schedule", "needs a schedule"),
        ({"strategy": "gradual", "schedule": {"steps": 0}}, "steps", "greater than or equal to 1"),
        (
            {
                "strategy": "gradual",
                "schedule": {"steps": 2, "waves": [{"offset": 0, "agents": ["mayor"]}]},
            },
            "schedule",
            "{steps: k} or {waves",
        ),
        (
            {"strategy": "gradual", "schedule": {"waves": [{"offset": 0, "agents": ["ghost"]}]}},
            "schedule.waves.0.agents",
            "ghost not among the agents",
        ),
        (
            {"strategy": "broadcast", "schedule": {"steps": 2}},
            "schedule",
            "only a gradual injection",
        ),
    ],
)
def test_a_bad_strategy_or_schedule_is_a_422_naming_the_field(
    editor: httpx.Client, injection: dict, field: str, words: str
) -> None:
    root = create(editor, "town-hall")["root_branch"]
    run_to_end(editor, root["id"], steps=1)
    before = len(editor.get("/v1/branches").json())
    for path, body in (
        (f"/v1/branches/{root['id']}/inject", {"content": NEWS, **injection}),
        (
            f"/v1/branches/{root['id']}/fork",
            {"at_step": 1, "injection": {"content": NEWS, **injection}},
        ),
        (f"/v1/branches/{root['id']}/injections/explain", {"content": NEWS, **injection}),
    ):
        problem = assert_problem(editor.post(path, json=body), 422)
        fields = [e["field"] for e in problem["errors"]]
        assert any(f.endswith(field) for f in fields), (path, problem)
        assert words in problem["detail"] + " ".join(e["reason"] for e in problem["errors"]), (
            problem
        )
    assert len(editor.get("/v1/branches").json()) == before  # nothing written


def test_a_gradual_preview_is_what_the_injection_records(editor: httpx.Client) -> None:
    root = create(editor, "town-hall")["root_branch"]
    run_to_end(editor, root["id"], steps=2)
    injection = {"content": NEWS, "strategy": "gradual", "schedule": {"steps": 3}}
    explained = editor.post(
        f"/v1/branches/{root['id']}/injections/explain", json={**injection, "at_step": 1}
    ).json()
    assert explained["strategy"] == "gradual"
    assert [w["step"] for w in explained["schedule"]] == [2, 3, 4]
    assert {a["agent_id"]: a["step"] for a in explained["agents"]} == {
        agent: w["step"] for w in explained["schedule"] for agent in w["agents"]
    }
    r = editor.post(f"/v1/branches/{root['id']}/fork", json={"at_step": 1, "injection": injection})
    assert r.status_code == 201, r.text
    child = r.json()
    run_to_end(editor, child["id"], steps=4)
    waves = [e for e in all_events(editor, child["id"]) if e["kind"] == "injection"]
    heard = [(e["step"], e["payload"].get("targets")) for e in waves]
    first = explained["schedule"][0]
    assert waves[0]["payload"]["waves"][0]["agents"] == first["agents"]
    assert heard[1:] == [(w["step"], w["agents"]) for w in explained["schedule"][1:]]
