"""A failed run says why, over the real API: on the branch, its status, the WebSocket; a
step that fails answers with a problem document; model-backed examples are marked."""

from __future__ import annotations

import json
from typing import Any

import httpx
from websockets.asyncio.client import connect

from aegntix.testing import FakeLLM
from tests.failing import FAILING_STEP, as_yaml, closed_port, dividing_by_zero, llm_example
from tests.server.api_support import all_events, assert_problem, run_to_end, wait_idle
from tests.server.conftest import LiveServer


def _create(http: httpx.Client, data: dict[str, Any]) -> dict[str, Any]:
    r = http.post("/v1/scenarios", content=as_yaml(data), headers={"content-type": "text/yaml"})
    assert r.status_code == 201, r.text
    branch: dict[str, Any] = r.json()["root_branch"]
    return branch


def test_no_model_server_fails_at_once_with_the_reason_everywhere(live_server: LiveServer):
    port = closed_port()
    key = live_server.make_key("fail-llm", "editor")
    with live_server.client(key) as http:
        branch = _create(http, llm_example(f"http://127.0.0.1:{port}/v1"))
        assert branch["failure"] is None
        status = run_to_end(http, branch["id"])
        reason = f"no model server at http://127.0.0.1:{port} — see docs/brains.md"
        expected = {"type": "ProviderUnavailable", "detail": reason, "step": 1}
        assert status["status"] == "failed" and status["failure"] == expected
        got = http.get(f"/v1/branches/{branch['id']}").json()
        assert got["status"] == "failed" and got["failure"] == expected
        assert got["head_seq"] == branch["head_seq"]  # nothing of step 1 was written
        tree = http.get("/v1/branches/tree", params={"scenario_id": got["scenario_id"]}).json()
        assert tree[0]["failure"] == expected

        # The server comes up: a step by hand works and clears the reason; so does a run.
        with FakeLLM(port=port) as fake:
            assert http.post(f"/v1/branches/{branch['id']}/step").status_code == 200
            stepped = http.get(f"/v1/branches/{branch['id']}").json()
            assert (stepped["status"], stepped["failure"]) == ("idle", None)
            again = http.post(f"/v1/branches/{branch['id']}/run", json={"steps": 1})
            assert again.status_code == 202
            done = wait_idle(http, branch["id"])
            assert fake.count > 0
        assert done["failure"] is None and done["head_step"] == 2
        assert http.get(f"/v1/branches/{branch['id']}").json()["failure"] is None


async def test_the_stream_says_why_live_and_in_its_hello(live_server: LiveServer):
    port = closed_port()
    key = live_server.make_key("fail-stream", "editor")
    with live_server.client(key) as http:
        branch = _create(http, llm_example(f"http://127.0.0.1:{port}/v1"))["id"]
    url = f"{live_server.ws_url}/v1/branches/{branch}/stream?api_key={key}"
    async with connect(url, proxy=None) as ws:
        hello = json.loads(await ws.recv())
        assert hello["status"] == "idle" and "failure" not in hello
        with live_server.client(key) as http:
            assert http.post(f"/v1/branches/{branch}/run").status_code == 202
        statuses = []
        while not statuses or statuses[-1]["status"] == "running":
            msg = json.loads(await ws.recv())
            if msg["type"] == "status":
                statuses.append(msg)
    assert statuses[-1]["status"] == "failed"
    assert statuses[-1]["failure"]["detail"].startswith("no model server at http://127.0.0.1:")
    async with connect(url, proxy=None) as ws:  # a client arriving later learns it at once
        hello = json.loads(await ws.recv())
        assert hello["status"] == "failed" and hello["failure"]["step"] == 1


def test_a_step_whose_expression_fails_answers_422_and_writes_nothing(
    live_server: LiveServer,
):
    key = live_server.make_key("fail-expr", "editor")
    with live_server.client(key) as http:
        branch = _create(http, dividing_by_zero())["id"]
        for _ in range(FAILING_STEP - 1):
            assert http.post(f"/v1/branches/{branch}/step").status_code == 200
        before = all_events(http, branch)
        body = assert_problem(http.post(f"/v1/branches/{branch}/step"), 422)
        assert body["type"].endswith("/expression-failed")
        assert body["detail"] == "outcomes.per_countdown: '100 / countdown': division by zero"
        assert body["errors"] == [{"field": "outcomes.per_countdown", "reason": "division by zero"}]
        assert all_events(http, branch) == before
        got = http.get(f"/v1/branches/{branch}").json()
        assert got["status"] == "failed"
        assert got["failure"] == {
            "type": "ExpressionFailed",
            "detail": "outcomes.per_countdown: '100 / countdown': division by zero",
            "step": FAILING_STEP,
        }
        # A background run meets the same end, recorded the same way.
        status = run_to_end(http, branch)
        assert status["status"] == "failed" and status["failure"] == got["failure"]
        assert http.get(f"/v1/branches/{branch}/outcomes").status_code == 200
        # A fork that steps past it (a different countdown) works, and owes nothing.
        fork = http.post(
            f"/v1/branches/{branch}/inject",
            json={"content": "More time.", "at_step": 1, "world": {"countdown": 10}},
        ).json()["branch"]
        assert fork["failure"] is None
        assert http.post(f"/v1/branches/{fork['id']}/step").status_code == 200
        assert http.get(f"/v1/branches/{fork['id']}").json()["status"] == "idle"


def test_model_backed_examples_are_marked(live_server: LiveServer):
    with live_server.client(live_server.owner_key) as http:
        examples = {e["name"]: e for e in http.get("/v1/examples").json()}
    llm = examples["negotiation-llm"]
    assert llm["needs_model"] is True and llm["model_servers"] == ["http://localhost:11434"]
    for name in ("negotiation", "town-hall", "incident-response"):
        assert examples[name]["needs_model"] is False and examples[name]["model_servers"] == []


def test_a_finished_branch_refuses_run_and_resume(live_server: LiveServer) -> None:
    # they answered 202 "running" and did nothing: there is no step left to run
    key = live_server.make_key("done-run", "editor")
    with live_server.client(key) as http:
        branch = _create(http, llm_example() | _rules_only())["id"]
        assert run_to_end(http, branch)["status"] == "done"
        head = http.get(f"/v1/branches/{branch}").json()["head_seq"]
        for action in ("run", "resume"):
            body = assert_problem(http.post(f"/v1/branches/{branch}/{action}"), 409)
            assert body["type"].endswith("/branch-done") and "fork" in body["detail"]
        after = http.get(f"/v1/branches/{branch}/status").json()
        assert after["status"] == "done" and after["head_seq"] == head


def test_a_finished_branch_refuses_an_injection_at_its_head(live_server: LiveServer):
    key = live_server.make_key("fail-inject", "editor")
    with live_server.client(key) as http:
        branch = _create(http, llm_example() | _rules_only())["id"]
        assert run_to_end(http, branch)["status"] == "done"
        head = http.get(f"/v1/branches/{branch}").json()["head_seq"]
        body = assert_problem(
            http.post(f"/v1/branches/{branch}/inject", json={"content": "too late"}), 409
        )
        assert body["type"].endswith("/branch-done") and "at_step" in body["detail"]
        assert http.get(f"/v1/branches/{branch}").json()["head_seq"] == head
        # at a past step it forks, as always
        forked = http.post(
            f"/v1/branches/{branch}/inject", json={"content": "earlier", "at_step": 1}
        )
        assert forked.status_code == 200 and forked.json()["forked"] is True


def test_seeds_share_one_range(live_server: LiveServer):
    key = live_server.make_key("fail-seed", "editor")
    with live_server.client(key) as http:
        branch = _create(http, dividing_by_zero())["id"]
        body = assert_problem(
            http.post(f"/v1/branches/{branch}/fork", json={"at_step": 0, "seed": -5}), 422
        )
        assert body["errors"][0]["field"] == "seed"


def _rules_only() -> dict[str, Any]:
    return {"brain": {"kind": "rules"}}
