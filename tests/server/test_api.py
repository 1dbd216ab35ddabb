"""The REST API over real HTTP: create → run → events → fork with injection → compare, and
the problem-details shape of errors."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.server.api_support import (
    all_events,
    assert_problem,
    create,
    example_text,
    run_to_end,
    wait_idle,
)
from tests.server.conftest import LiveServer


@pytest.fixture
def client(live_server: LiveServer) -> httpx.Client:
    return live_server.client(live_server.make_key("api-tests", "owner"))


def test_health_needs_no_key(live_server: LiveServer) -> None:
    r = httpx.get(f"{live_server.base_url}/v1/health", timeout=60)
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_create_run_fork_inject_compare(client: httpx.Client) -> None:
    created = create(client)
    root = created["root_branch"]
    assert created["scenario"]["name"] == "Delivery van sale"
    assert len(root["id"]) >= 16 and root["head_seq"] == 2  # step-0 events
    status = run_to_end(client, root["id"])
    assert status["status"] == "done"
    head = client.get(f"/v1/branches/{root['id']}").json()
    events = all_events(client, root["id"], limit=7)
    assert [e["seq"] for e in events] == list(range(1, head["head_seq"] + 1))
    assert events[-1]["payload"]["type"] == "step_end" and events[-1]["payload"]["terminal"]
    series = client.get(f"/v1/branches/{root['id']}/outcomes/series").json()
    assert [p["step"] for p in series] == list(range(1, head["head_step"] + 1))
    assert (
        series[-1]["outcomes"]
        == client.get(f"/v1/branches/{root['id']}/outcomes").json()["outcomes"]
    )

    at = 3
    r = client.post(
        f"/v1/branches/{root['id']}/fork",
        json={
            "at_step": at,
            "label": "urgent",
            "injection": {
                "content": "Your lease ends Friday: the deadline is urgent.",
                "targets": ["buyer"],
                "strategy": "direct",
            },
        },
    )
    assert r.status_code == 201, r.text
    fork = r.json()
    assert fork["parent_id"] == root["id"] and fork["fork_step"] == at
    assert fork["label"] == "urgent"
    run_to_end(client, fork["id"])
    fork_events = all_events(client, fork["id"])
    assert fork_events[: fork["fork_seq"]] == [
        {**e, "branch_id": e["branch_id"]} for e in events[: fork["fork_seq"]]
    ]
    injected = fork_events[fork["fork_seq"]]
    assert injected["kind"] == "injection" and injected["step"] == at + 1

    cmp = client.get("/v1/compare", params={"a": root["id"], "b": fork["id"]}).json()
    assert cmp["common_ancestor"] == root["id"]
    assert cmp["divergence_step"] == at + 1
    assert cmp["divergence_seq"] == fork["fork_seq"] + 1
    assert cmp["only_b_count"] > 0 and "only_a" not in cmp and "only_b" not in cmp
    assert all(len(p) == 2 and p[0] >= at + 1 for p in cmp["divergence_series"])

    tree = client.get("/v1/branches/tree", params={"scenario_id": root["scenario_id"]}).json()
    assert [n["id"] for n in tree] == [root["id"]]
    assert [c["id"] for c in tree[0]["children"]] == [fork["id"]]


def test_inject_now_and_in_the_past(client: httpx.Client) -> None:
    root = create(client, "town-hall")["root_branch"]
    run_to_end(client, root["id"], steps=3)
    now = client.post(
        f"/v1/branches/{root['id']}/inject",
        json={"content": "The barrier plan doubles in cost.", "world": {}},
    )
    assert now.status_code == 200, now.text
    assert now.json()["forked"] is False and now.json()["branch"]["id"] == root["id"]
    assert [e["kind"] for e in now.json()["events"]] == ["injection"]
    past = client.post(
        f"/v1/branches/{root['id']}/inject", json={"content": "Flood warning.", "at_step": 1}
    )
    assert past.status_code == 200, past.text
    assert past.json()["forked"] is True and past.json()["branch"]["fork_step"] == 1
    # The injection at the head is seen by the next run (the runner is rebuilt).
    status = run_to_end(client, root["id"], steps=1)
    assert status["head_step"] == 4


def test_step_pause_resume_and_state(client: httpx.Client) -> None:
    root = create(client)["root_branch"]
    r = client.post(f"/v1/branches/{root['id']}/step")
    assert r.status_code == 200, r.text
    step = r.json()
    assert step["step"] == 1 and step["events"][-1]["payload"]["type"] == "step_end"
    state = client.get(f"/v1/branches/{root['id']}/state", params={"step": 1}).json()
    assert state["state"]["completed"] == 1
    assert client.post(f"/v1/branches/{root['id']}/run").status_code == 202
    again = client.post(f"/v1/branches/{root['id']}/run")
    if again.status_code != 202:  # it may already have finished (the brain is fast)
        assert_problem(again, 409)
    pause = client.post(f"/v1/branches/{root['id']}/pause")
    assert pause.status_code in {202, 409}
    wait_idle(client, root["id"])
    # the run may have finished before the pause (the brain is fast): then there is no step
    done = client.get(f"/v1/branches/{root['id']}").json()["status"] == "done"
    resumed = client.post(f"/v1/branches/{root['id']}/resume", json={"steps": 1})
    assert resumed.status_code == (409 if done else 202), resumed.text
    wait_idle(client, root["id"])
    run_to_end(client, root["id"])
    assert_problem(client.post(f"/v1/branches/{root['id']}/step"), 409)


def test_events_filters(client: httpx.Client) -> None:
    root = create(client)["root_branch"]
    run_to_end(client, root["id"], steps=4)
    events = all_events(client, root["id"], kind="message", agent_id="buyer")
    assert events and all(e["kind"] == "message" and e["agent_id"] == "buyer" for e in events)
    page = client.get(f"/v1/branches/{root['id']}/events", params={"from_seq": 10**9}).json()
    assert page == {"events": [], "next_seq": None}


def test_upload_json_and_validate(client: httpx.Client) -> None:
    import yaml

    spec = yaml.safe_load(example_text("negotiation"))
    r = client.post("/v1/scenarios", json=spec)
    assert r.status_code == 201, r.text
    r = client.post(
        "/v1/scenarios",
        files={"file": ("deal.json", json.dumps(spec).encode(), "application/json")},
    )
    assert r.status_code == 201, r.text
    r = client.post(
        "/v1/scenarios/validate",
        content=example_text("town-hall"),
        headers={"content-type": "text/yaml"},
    )
    assert r.json() == {
        "ok": True,
        "name": "Riverside flood-barrier town hall",
        "agents": 9,
        "warnings": [],
    }


def test_examples(client: httpx.Client) -> None:
    names = {e["name"] for e in client.get("/v1/examples").json()}
    assert {"negotiation", "town-hall", "incident-response"} <= names
    r = client.post("/v1/examples/town-hall")
    assert r.status_code == 201 and r.json()["scenario"]["name"].startswith("Riverside")
    assert_problem(client.post("/v1/examples/nope"), 404)
    assert client.post("/v1/examples/..%2F..%2Fpyproject").status_code in {404, 405}
    assert_problem(client.post("/v1/examples/.hidden"), 404)


# -- problem details -----------------------------------------------------------------------
def test_bad_yaml_names_the_line(client: httpx.Client) -> None:
    text = b"name: broken\nagents:\n  - id: a\n    name: a: b\n"
    r = client.post("/v1/scenarios", content=text, headers={"content-type": "application/yaml"})
    body = assert_problem(r, 422)
    assert body["errors"][0]["line"] == 4
    assert "4" in body["detail"]


def test_unknown_field_names_field_and_line(client: httpx.Client) -> None:
    text = example_text("negotiation").replace(b"\nagents:", b"\ncolour: red\nagents:", 1)
    r = client.post("/v1/scenarios/validate", content=text, headers={"content-type": "text/yaml"})
    body = assert_problem(r, 422)
    assert body["errors"][0]["field"] == "colour"
    assert body["errors"][0]["line"] > 1
    assert "unknown field" in body["errors"][0]["reason"]


def test_request_validation_is_a_problem(client: httpx.Client) -> None:
    root = create(client)["root_branch"]
    r = client.post(f"/v1/branches/{root['id']}/fork", json={"at_step": "soon", "extra": 1})
    body = assert_problem(r, 422)
    assert {e["field"] for e in body["errors"]} == {"at_step", "extra"}
    r = client.get(f"/v1/branches/{root['id']}/events", params={"kind": "gossip"})
    assert assert_problem(r, 422)["errors"][0]["field"] == "kind"
    r = client.post(f"/v1/branches/{root['id']}/inject", json={"content": "x", "targets": ["z"]})
    assert assert_problem(r, 422)["errors"][0]["field"] == "targets"


def test_fork_past_head_is_409(client: httpx.Client) -> None:
    root = create(client)["root_branch"]
    r = client.post(f"/v1/branches/{root['id']}/fork", json={"at_step": 5})
    assert "head is at step 0" in assert_problem(r, 409)["detail"]
    r = client.post(
        f"/v1/branches/{root['id']}/fork", json={"at_step": 5, "injection": {"content": "x"}}
    )
    assert_problem(r, 409)
    assert len(client.get("/v1/branches", params={"scenario_id": root["scenario_id"]}).json()) == 1


def test_body_too_big_is_413(client: httpx.Client) -> None:
    big = b"name: x\n" + b"#" * 1_100_000
    r = client.post("/v1/scenarios", content=big, headers={"content-type": "application/yaml"})
    assert_problem(r, 413)

    def chunks() -> object:  # no Content-Length: the limit counts streamed bytes
        for _ in range(40):
            yield b"#" * 50_000

    r = client.post(
        "/v1/scenarios/validate",
        content=chunks(),  # type: ignore[arg-type]
        headers={"content-type": "application/yaml"},
    )
    assert_problem(r, 413)
    r = client.post("/v1/keys", content=b'{"role": "viewer", "name": "' + b"x" * 1_100_000 + b'"}')
    assert_problem(r, 413)


def test_unsupported_media_type_and_unknown_ids(client: httpx.Client) -> None:
    r = client.post("/v1/scenarios", content=b"x", headers={"content-type": "text/plain"})
    assert_problem(r, 415)
    assert_problem(client.get("/v1/branches/0123456789abcdef"), 404)
    assert_problem(client.get("/v1/scenarios/nope"), 404)
    assert_problem(client.get("/v1/compare", params={"a": "x", "b": "y"}), 404)
    assert_problem(client.get("/v1/no-such-route"), 404)


def test_openapi_documents_security(live_server: LiveServer) -> None:
    schema = httpx.get(f"{live_server.base_url}/openapi.json", timeout=60).json()
    assert "bearer" in schema["components"]["securitySchemes"]
    assert "security" not in schema["paths"]["/v1/health"]["get"]
    assert schema["paths"]["/v1/branches/{branch_id}/fork"]["post"]["security"]
