"""``GET /v1/scenarios/{id}/tools`` and ``POST …/tools/check``: the declared servers (never an
env or header value), who may use what, live status in this process, and usage counted from
the timeline (a fork's replayed results apart) — on both backends, with a real stdio server."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import httpx
import pytest

from aegntix.engine.runner import Runner
from aegntix.timeline.tenancy import TenantStore
from aegntix.tools.router import ToolRouter
from tests.server.api_support import all_events, assert_problem, create, run_to_end
from tests.server.conftest import LiveServer
from tests.support import ROOT
from tests.tools.helpers import CallingBrain, brains

SERVERS = ROOT / "tests" / "tools" / "servers"


@pytest.fixture
def client(live_server: LiveServer) -> httpx.Client:
    return live_server.client(live_server.make_key("tools-api", "owner"))


def post_json(client: httpx.Client, spec: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/v1/scenarios", json=spec)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def tools_spec(servers: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Two agents; ``a`` may use everything, ``b`` only ``svc.*``; no run needed."""
    return {
        "name": "tools api",
        "world": {"n": 0},
        "agents": [
            {"id": "a", "name": "Ann", "role": "caller"},
            {"id": "b", "name": "Bo", "role": "caller", "tools": ["svc.*"]},
        ],
        "tools": {"servers": servers, **extra},
        "termination": {"max_steps": 1},
    }


def test_market_run_usage_and_a_fork_that_replays(client: httpx.Client) -> None:
    made = client.post("/v1/examples/market_tools")
    assert made.status_code == 201, made.text
    scenario_id = made.json()["scenario"]["id"]
    root = made.json()["root_branch"]["id"]

    before = client.get(f"/v1/scenarios/{scenario_id}/tools")
    assert before.status_code == 200, before.text
    [server] = before.json()
    assert server["usage"]["calls"] == 0 and server["usage"]["p50_ms"] is None

    assert run_to_end(client, root)["status"] == "done"
    results = [e for e in all_events(client, root) if e["kind"] == "tool_result"]
    assert results and all("error" not in e["payload"] for e in results)

    [server] = client.get(f"/v1/scenarios/{scenario_id[:8]}/tools").json()
    assert server["name"] == "market" and server["transport"] == "stdio"
    assert server["where"] == "python examples/tools/market_server.py"
    assert (server["timeout_s"], server["concurrency"]) == (10, 4)
    # the run started it in this process: up, its three tools listed
    assert server["status"] == "up" and server["in_process"] is True
    assert server["tool_count"] == 3 and server["last_error"] is None
    assert [t["name"] for t in server["tools"]] == ["get_price", "history", "symbols"]
    assert server["tools"][0]["description"].startswith("The closing price")
    agents = {a["id"]: a for a in server["agents"]}
    assert agents["cautious"]["patterns"] == ["market.get_price"]
    assert agents["cautious"]["tools"] == ["get_price"]
    assert agents["eager"]["tools"] == ["get_price", "history", "symbols"]
    usage = server["usage"]
    assert usage["calls"] == len(results) and usage["errors"] == 0 and usage["replayed"] == 0
    assert usage["by_tool"] == {"get_price": len(results)}
    assert usage["last_error"] is None and usage["last_error_step"] is None
    latencies = sorted(e["payload"]["latency_ms"] for e in results)
    assert usage["max_ms"] == latencies[-1] and 0 < usage["p50_ms"] <= usage["max_ms"]
    # a check of the running server (a 2026-era one: no ping) leaves it up, not restarted
    [checked] = client.post(f"/v1/scenarios/{scenario_id}/tools/check").json()
    assert (checked["status"], checked["restarts"]) == ("up", 0)

    # a fork with nothing injected reads the recorded results: replays, not new calls
    fork = client.post(f"/v1/branches/{root}/fork", json={"at_step": 1, "label": "again"})
    assert fork.status_code == 201, fork.text
    run_to_end(client, fork.json()["id"])
    replayed = [
        e
        for e in all_events(client, fork.json()["id"], from_seq=fork.json()["fork_seq"] + 1)
        if e["kind"] == "tool_result"
    ]
    assert replayed
    [server] = client.get(f"/v1/scenarios/{scenario_id}/tools").json()
    assert server["usage"]["calls"] == len(results)
    assert server["usage"]["replayed"] == len(replayed)


def test_declared_servers_show_no_env_header_or_url_secret(client: httpx.Client) -> None:
    spec = tools_spec(
        {
            "svc": {
                "command": sys.executable,
                "args": [str(SERVERS / "lite.py")],
                "env": {"LITERAL": "env-value-1234", "TOKEN": "secret:AEGNTIX_TEST_UNSET_TOKEN"},
                "timeout_s": 2.5,
                "concurrency": 2,
            },
            "web": {
                "url": "https://user:pw-5678@tools.example:8443/mcp?key=query-9012",
                "headers": {"X-Team": "header-3456"},  # (a credential must be a secret:)
            },
        }
    )
    scenario_id = post_json(client, spec)["scenario"]["id"]
    r = client.get(f"/v1/scenarios/{scenario_id}/tools")
    assert r.status_code == 200, r.text
    for value in ("env-value-1234", "pw-5678", "query-9012", "header-3456", "user:"):
        assert value not in r.text
    svc, web = r.json()
    assert svc["where"] == f"{sys.executable} {SERVERS / 'lite.py'}"
    assert svc["secrets"] == ["AEGNTIX_TEST_UNSET_TOKEN"]
    assert (svc["timeout_s"], svc["concurrency"], svc["transport"]) == (2.5, 2, "stdio")
    assert web["where"] == "https://tools.example:8443/mcp?…" and web["transport"] == "http"
    # never started here: idle, nothing listed yet; the missing secret is said
    assert (svc["status"], svc["in_process"], svc["tool_count"]) == ("idle", False, None)
    assert "AEGNTIX_TEST_UNSET_TOKEN is not set" in svc["last_error"]
    assert (web["status"], web["in_process"], web["last_error"]) == ("idle", False, None)
    # allow-lists: a has the default "*", b only svc.*
    assert [(a["id"], a["patterns"], a["tools"]) for a in svc["agents"]] == [
        ("a", ["*"], None),
        ("b", ["svc.*"], None),
    ]
    assert [a["id"] for a in web["agents"]] == ["a"]


def test_check_starts_pings_and_reports_what_cannot_start(client: httpx.Client) -> None:
    spec = tools_spec(
        {
            "svc": {"command": sys.executable, "args": [str(SERVERS / "lite.py"), "--tools", "3"]},
            "never": {
                "command": sys.executable,
                "args": [str(SERVERS / "faulty.py"), "--mode", "never"],
            },
            "nokey": {
                "command": sys.executable,
                "args": [str(SERVERS / "lite.py"), "--name", "nokey"],
                "env": {"TOKEN": "secret:AEGNTIX_TEST_UNSET_TOKEN"},
            },
        }
    )
    scenario_id = post_json(client, spec)["scenario"]["id"]
    r = client.post(f"/v1/scenarios/{scenario_id}/tools/check")
    assert r.status_code == 200, r.text
    rows = {s["name"]: s for s in r.json()}
    assert rows["svc"]["status"] == "up" and rows["svc"]["in_process"] is True
    assert rows["svc"]["tool_count"] == len(rows["svc"]["tools"]) > 0
    b = next(a for a in rows["svc"]["agents"] if a["id"] == "b")
    assert b["tools"] == [t["name"] for t in rows["svc"]["tools"]]  # svc.* allows them all
    assert rows["never"]["status"] == "down"
    assert "refusing to start" in rows["never"]["last_error"]  # its stderr says why
    assert rows["nokey"]["status"] == "down" and rows["nokey"]["in_process"] is False
    assert "AEGNTIX_TEST_UNSET_TOKEN is not set" in rows["nokey"]["last_error"]
    # a later read shows the same live status
    again = {
        s["name"]: s["status"] for s in client.get(f"/v1/scenarios/{scenario_id}/tools").json()
    }
    assert again["svc"] == "up" and again["never"] == "down"


def test_a_scenario_without_tools_answers_an_empty_list(client: httpx.Client) -> None:
    scenario_id = create(client)["scenario"]["id"]
    assert client.get(f"/v1/scenarios/{scenario_id}/tools").json() == []
    assert client.post(f"/v1/scenarios/{scenario_id}/tools/check").json() == []


def test_tenants_and_roles(live_server: LiveServer, client: httpx.Client) -> None:
    # its own server (a spec no other test starts): a refused check must leave it idle
    lite = [str(SERVERS / "lite.py"), "--name", "tenants"]
    spec = tools_spec({"svc": {"command": sys.executable, "args": lite}})
    scenario_id = post_json(client, spec)["scenario"]["id"]
    other = live_server.client(live_server.make_key("tools-api-other", "owner"))
    assert_problem(other.get(f"/v1/scenarios/{scenario_id}/tools"), 404)
    assert_problem(other.post(f"/v1/scenarios/{scenario_id}/tools/check"), 404)
    viewer = live_server.client(live_server.make_key("tools-api", "viewer"))
    assert viewer.get(f"/v1/scenarios/{scenario_id}/tools").status_code == 200
    assert_problem(viewer.post(f"/v1/scenarios/{scenario_id}/tools/check"), 403)
    # the refused check started nothing
    [row] = viewer.get(f"/v1/scenarios/{scenario_id}/tools").json()
    assert row["status"] == "idle" and row["in_process"] is False


def test_usage_counts_calls_another_process_made(
    live_server: LiveServer, client: httpx.Client
) -> None:
    """A run elsewhere (here: a runner with its own router, as a worker or ``aegntix run``
    has): this server never started the server, yet the timeline's calls are counted."""
    lite = [str(SERVERS / "lite.py"), "--name", "elsewhere", "--tools", "2"]
    made = post_json(client, tools_spec({"svc": {"command": sys.executable, "args": lite}}))
    scenario_id, root = made["scenario"]["id"], made["root_branch"]["id"]
    brain = CallingBrain(lambda agent, step: [("svc.t0" if agent == "a" else "svc.nope", {})])

    async def run_elsewhere() -> None:
        router = ToolRouter()
        store = TenantStore(live_server.store, "tools-api")
        try:
            await Runner(store, root, brains=brains(brain), tools=router).run()
        finally:
            await router.aclose()

    asyncio.run(run_elsewhere())
    [row] = client.get(f"/v1/scenarios/{scenario_id}/tools").json()
    assert (row["status"], row["in_process"], row["tool_count"]) == ("idle", False, None)
    usage = row["usage"]
    assert (usage["calls"], usage["errors"], usage["by_tool"]) == (2, 1, {"t0": 1, "nope": 1})
    assert "has no tool 'nope'" in usage["last_error"] and usage["last_error_step"] == 1
