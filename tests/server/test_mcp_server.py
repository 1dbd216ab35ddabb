"""AegntiX as an MCP server, driven by the official ``mcp`` client over streamable HTTP
(``/mcp`` of a real server on loopback) and in-process: the tools, API-key auth and roles,
tenant isolation, typed errors."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from aegntix.security.roles import Principal, Role
from aegntix.server.app import create_app
from aegntix.server.mcp import TOOL_NAMES, WRITE_TOOLS, build_server, fixed_caller
from aegntix.server.mcp_http import transport_security
from aegntix.timeline import open_sqlite_store
from tests.server.conftest import LiveServer, _serve, serving


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One SQLite server for the module (the REST suites cover PostgreSQL)."""
    with serving(tmp_path_factory.mktemp("mcp")) as live:
        yield live


@asynccontextmanager
async def connect(server: LiveServer, key: str) -> AsyncIterator[Client]:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30)
    async with (
        http,
        Client(streamable_http_client(f"{server.base_url}/mcp", http_client=http)) as c,
    ):
        yield c


async def ok(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def failed(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """The typed body of a call that must fail."""
    result: CallToolResult = await client.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    body = result.structured_content
    assert isinstance(body, dict)
    assert set(body) >= {"error", "status", "detail", "errors"}, body
    return body


def fields(body: dict[str, Any]) -> list[str]:
    return [e["field"] for e in body["errors"]]


@pytest.fixture(scope="module")
def ran(server: LiveServer) -> dict[str, str]:
    """Tenant default's negotiation, its root run 4 steps (ids for the other tests)."""

    async def make() -> dict[str, str]:
        async with connect(server, server.owner_key) as c:
            created = await ok(c, "create_scenario", example="negotiation")
            root = created["root_branch"]["id"]
            await ok(c, "run", branch_id=root, steps=4)
            return {"root": root, "scenario": created["scenario"]["id"]}

    return asyncio.run(make())


async def test_create_run_fork_compare_over_http(server: LiveServer) -> None:
    async with connect(server, server.owner_key) as c:
        created = await ok(c, "create_scenario", example="negotiation")
        root = created["root_branch"]["id"]
        assert created["scenario"]["name"].startswith("Delivery van sale")

        ran = await ok(c, "run", branch_id=root[:8], steps=4)  # a prefix is enough
        assert (ran["id"], ran["head_step"], ran["running"]) == (root, 4, False)
        assert not ran["timed_out"] and "deal_reached" in ran["outcomes"]

        injection = {"content": "A rival dealer offers the same van for 20% less.", "urgency": 1}
        fork = await ok(c, "fork", branch_id=root, at_step=2, injection=injection, label="rival")
        assert (fork["parent_id"], fork["fork_step"], fork["label"]) == (root, 2, "rival")
        await ok(c, "run", branch_id=fork["id"], steps=2)

        diff = await ok(c, "compare", a=root, b=fork["id"])
        assert diff["diverged"] and diff["common_ancestor"] == root
        assert diff["divergence_step"] == 3  # the injection lands right after step 2

        page = await ok(c, "read_events", branch_id=fork["id"], kind="injection")
        assert [e["payload"]["content"] for e in page["events"]] == [injection["content"]]
        at2 = await ok(c, "state_at", branch_id=fork["id"], step=2)
        assert at2["step"] == 2 and "world" in at2["state"] and "outcomes" in at2
        listed = await ok(c, "list_branches", scenario_id=created["scenario"]["id"])
        assert {b["id"] for b in listed["branches"]} == {root, fork["id"]}


async def test_tools_are_listed_with_descriptions_and_schemas(server: LiveServer) -> None:
    async with connect(server, server.owner_key) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
    assert list(tools) == list(TOOL_NAMES)
    for tool in tools.values():
        assert tool.description and len(tool.description) > 40
        assert "\n    " not in tool.description  # no docstring indentation
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint == (tool.name not in WRITE_TOOLS)
    fork = tools["fork"].input_schema
    assert fork["required"] == ["branch_id", "at_step"]
    assert fork["properties"]["at_step"]["minimum"] == 0
    strategy = fork["$defs"]["Injection"]["properties"]["strategy"]
    assert {"direct", "broadcast", "organic", "gradual"} <= set(strategy["enum"])


async def test_viewer_reads_but_cannot_run_fork_or_create(
    server: LiveServer, ran: dict[str, str]
) -> None:
    async with connect(server, server.make_key("default", Role.VIEWER)) as c:
        seen = await ok(c, "get_branch", branch_id=ran["root"])
        assert seen["head_step"] >= 4
        writes = [
            ("run", {"branch_id": ran["root"]}),
            ("pause", {"branch_id": ran["root"]}),
            ("fork", {"branch_id": ran["root"], "at_step": 1}),
            ("create_scenario", {"example": "negotiation"}),
            ("start_rollouts", {"branch_id": ran["root"], "at_step": 1, "n": 2}),
        ]
        assert {tool for tool, _ in writes} == WRITE_TOOLS
        for tool, arguments in writes:
            body = await failed(c, tool, **arguments)
            assert (body["error"], body["status"]) == ("forbidden", 403), tool
            assert "viewer" in body["detail"]


async def test_another_tenants_ids_are_not_found_like_missing_ones(
    live_server: LiveServer,
) -> None:
    """On both backends (the session's shared servers), with tenants of this test only."""
    async with connect(live_server, live_server.make_key("mcp-a", Role.OWNER)) as c:
        created = await ok(c, "create_scenario", example="negotiation")
        root, scenario = created["root_branch"]["id"], created["scenario"]["id"]
        await ok(c, "run", branch_id=root, steps=2)
        rollout = await ok(c, "start_rollouts", branch_id=root, at_step=1, n=1)
    async with connect(live_server, live_server.make_key("mcp-b", Role.OWNER)) as c:
        assert (await ok(c, "list_scenarios"))["scenarios"] == []
        assert (await ok(c, "list_branches"))["branches"] == []
        for ref in (root, "f00dfeedf00dfeed"):  # another tenant's, and nobody's
            for tool, arguments in [
                ("get_branch", {"branch_id": ref}),
                ("run", {"branch_id": ref}),
                ("fork", {"branch_id": ref, "at_step": 0}),
                ("start_rollouts", {"branch_id": ref, "at_step": 0, "n": 1}),
                ("read_events", {"branch_id": ref}),
                ("state_at", {"branch_id": ref}),
                ("metrics", {"branch_id": ref}),
                ("compare", {"a": ref, "b": ref}),
                ("get_rollouts", {"set_id": rollout["id"] if ref == root else ref}),
            ]:
                body = await failed(c, tool, **arguments)
                assert (body["error"], body["status"]) == ("not-found", 404), (tool, body)
        body = await failed(c, "list_branches", scenario_id=scenario)
        assert body["error"] == "not-found"


async def test_bad_input_is_a_typed_error_naming_the_field(
    server: LiveServer, ran: dict[str, str]
) -> None:
    root = ran["root"]
    async with connect(server, server.owner_key) as c:
        body = await failed(c, "create_scenario", example="no-such-example")
        assert (body["error"], fields(body)) == ("not-found", ["example"])
        body = await failed(c, "create_scenario")
        assert (body["error"], fields(body)) == ("invalid-request", ["text"])
        body = await failed(c, "create_scenario", text="name: x\nagents: []\n")
        assert body["error"] == "scenario-invalid" and "agents" in fields(body)
        body = await failed(c, "fork", branch_id=root, at_step=999)
        assert (body["error"], body["status"], fields(body)) == (
            "fork-out-of-range",
            409,
            ["at_step"],
        )
        body = await failed(c, "fork", branch_id=root, at_step=-1)
        assert (body["error"], fields(body)) == ("validation", ["at_step"])
        body = await failed(
            c, "fork", branch_id=root, at_step=1, injection={"content": "x", "strategy": "shout"}
        )
        assert (body["error"], fields(body)) == ("validation", ["injection.strategy"])
        body = await failed(c, "state_at", branch_id=root, step=999)
        assert fields(body) == ["step"]
        body = await failed(c, "get_rollouts", set_id="nosuchset")
        assert (body["error"], fields(body)) == ("not-found", ["set_id"])
        body = await failed(c, "read_events", branch_id=root, limit=5000)
        assert fields(body) == ["limit"]
        body = await failed(c, "no_such_tool")
        assert (body["error"], body["status"]) == ("invalid-request", 400)


async def test_rollouts_start_and_report_progress_and_stats(
    server: LiveServer, ran: dict[str, str]
) -> None:
    async with connect(server, server.owner_key) as c:
        started = await ok(
            c,
            "start_rollouts",
            branch_id=ran["root"],
            at_step=2,
            n=3,
            injection={"content": "Interest rates just doubled.", "strategy": "broadcast"},
        )
        set_id = started["id"]
        assert started["n"] == 3 and started["control_id"]
        deadline = time.monotonic() + 60
        while True:  # the set runs in the background; nothing to await over MCP
            got = await ok(c, "get_rollouts", set_id=set_id[:8], members=True)
            if not got["set"]["running"] and got["set"]["progress"]["done"] == 3:
                break
            assert time.monotonic() < deadline, got["set"]
            await asyncio.sleep(0.05)
        assert len(got["members"]) == 3
        stats = got["stats"]
        assert stats["set_id"] == set_id and stats["comparison"] == "paired"  # vs its control
        assert "deal_reached" in stats["outcomes"]


def test_mcp_needs_a_valid_api_key(server: LiveServer) -> None:
    hello = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    for headers in ({}, {"Authorization": "Bearer agx_not_a_key"}):
        r = httpx.post(f"{server.base_url}/mcp", json=hello, headers=headers, timeout=60)
        assert r.status_code == 401, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.headers["www-authenticate"].startswith("Bearer")


def test_mcp_is_not_in_the_openapi_schema(server: LiveServer) -> None:
    paths = httpx.get(f"{server.base_url}/openapi.json", timeout=60).json()["paths"]
    assert not any(p.startswith("/mcp") for p in paths)


def test_a_foreign_host_header_is_refused_on_loopback(server: LiveServer) -> None:
    r = httpx.post(
        f"{server.base_url}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Authorization": f"Bearer {server.owner_key}", "Host": "evil.example"},
        timeout=60,
    )
    assert r.status_code in {403, 421}, r.text


def test_listening_on_every_interface_accepts_any_host() -> None:
    assert not transport_security("0.0.0.0").enable_dns_rebinding_protection
    assert not transport_security("::").enable_dns_rebinding_protection
    local = transport_security("127.0.0.1")
    assert local.enable_dns_rebinding_protection and "localhost:*" in local.allowed_hosts
    assert "10.0.0.5:*" in transport_security("10.0.0.5").allowed_hosts


def test_the_app_leaves_root_logging_alone(tmp_path: Path) -> None:
    root = logging.getLogger()
    before = (root.handlers[:], root.level)
    store = open_sqlite_store(tmp_path / "x.db")
    try:
        create_app(store)
    finally:
        store.close()
    assert (root.handlers, root.level) == before


async def test_a_fixed_caller_in_process_acts_with_its_role(tmp_path: Path) -> None:
    """What `aegntix mcp` builds (stdio): the app's lifespan, no socket, a fixed caller."""
    store = open_sqlite_store(tmp_path / "local.db")
    try:
        app = create_app(store)
        owner = build_server(app, fixed_caller(Principal("default", Role.OWNER, "local")))
        viewer = build_server(app, fixed_caller(Principal("default", Role.VIEWER, "local")))
        async with app.router.lifespan_context(app):
            async with Client(owner) as c:
                created = await ok(c, "create_scenario", example="negotiation")
                root = created["root_branch"]["id"]
                ran = await ok(c, "run", branch_id=root, steps=2)
                assert ran["head_step"] == 2
                started = await ok(c, "run", branch_id=root, wait=False)
                assert started["started"] == "running" and not started["timed_out"]
                deadline = time.monotonic() + 30  # no event over MCP: poll, as a client does
                while (seen := await ok(c, "get_branch", branch_id=root))["running"]:
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.02)
                assert seen["status"] == "done"
                body = await failed(c, "run", branch_id=root)
                assert (body["error"], body["status"]) == ("branch-done", 409)
            async with Client(viewer) as c:
                listed = (await ok(c, "list_scenarios"))["scenarios"]
                assert [s["id"] for s in listed] == [created["scenario"]["id"]]
                body = await failed(c, "run", branch_id=root)
                assert body["error"] == "forbidden"
    finally:
        store.close()


DOC = Path(__file__).parents[2] / "docs" / "mcp-server.md"


def test_the_documented_example_runs(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Python script of docs/mcp-server.md, as written, against the live server."""
    script = DOC.read_text().split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.setenv("AEGNTIX_URL", server.base_url)
    monkeypatch.setenv("AEGNTIX_KEY", server.owner_key)
    exec(compile(script, str(DOC), "exec"), {"__name__": "__main__"})
    out = capsys.readouterr().out
    assert "root: done" in out and "fork: done" in out and "diverge at step 3" in out


async def test_serving_every_interface_answers_a_named_host(tmp_path: Path) -> None:
    """`aegntix serve --host 0.0.0.0` behind a name: /mcp answers whatever Host it is sent."""
    store = open_sqlite_store(tmp_path / "any.db")
    app = create_app(store, bootstrap=True, key_file=tmp_path / "owner.key", host="0.0.0.0")
    uvicorn_server, thread, port = _serve(app)
    try:
        headers = {"Authorization": f"Bearer {app.state.bootstrap_key}", "Host": "sandbox.example"}
        http = httpx2.AsyncClient(headers=headers, timeout=30)
        url = f"http://127.0.0.1:{port}/mcp"
        async with http, Client(streamable_http_client(url, http_client=http)) as c:
            assert (await ok(c, "list_scenarios"))["scenarios"] == []
    finally:
        uvicorn_server.should_exit = True
        await asyncio.to_thread(thread.join, 15)
        store.close()
