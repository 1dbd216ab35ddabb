"""The router and one run's view of it: allow-lists, secrets (resolved at run time, redacted
from results), the size limit, tool lists refreshed when a server says they changed, status,
and no process left behind."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psutil
import pytest

from aegntix.errors import ToolNotAllowed, ToolNotListed, ToolSecretMissing
from aegntix.tools.router import ToolRouter

from .helpers import scenario, stdio

SECRET = "tok-3f9a1c77e2"


def children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


async def test_a_run_of_an_sdk_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUMBERED_TOKEN", SECRET)  # the secret, as the environment holds it
    spec = scenario(
        {
            "num": stdio(
                "numbered.py",
                "--name",
                "num",
                "--tools",
                "3",
                "--extras",
                env={"TOKEN": "secret:NUMBERED_TOKEN"},
                concurrency=2,
            )
        },
        [
            {"id": "a", "name": "A", "role": "caller"},
            {"id": "b", "name": "B", "role": "caller", "tools": ["num.t1"]},
        ],
        tools={"max_result_chars": 100},
    )
    before = children()
    router = ToolRouter()
    try:
        tools = router.for_run(spec)
        await tools.prepare()
        assert [t.name for t in tools.tools_for("b")] == ["num.t1"]
        names = [t.name for t in tools.tools_for("a")]
        assert {"num.t0", "num.secret", "num.big", "num.grow"} <= set(names)
        described = {t.name: t for t in tools.tools_for("a")}["num.t0"]
        assert described.description == "Tool 0 of num" and described.server == "num"
        assert described.input_schema["properties"]["x"]["type"] == "integer"

        with pytest.raises(ToolNotAllowed, match=r"'b' may not call 'num\.t0'"):
            await tools.call("b", 1, "num.t0", {})
        ok = await tools.call("b", 1, "num.t1", {"x": 5})
        assert ok.result == {"server": "num", "tool": "t1", "x": 5} and ok.latency_ms > 0

        said = await tools.call("a", 1, "num.secret", {})
        assert said.result == {"result": "token is [redacted]"}
        assert SECRET not in repr(said)

        big = await tools.call("a", 1, "num.big", {"n": 5000})
        assert big.truncated and len(big.result) == 100

        unknown = await tools.call("a", 1, "num.nope", {})
        assert unknown.error == "server 'num' has no tool 'nope'"

        conn = tools.servers["num"]
        conn.refreshed.clear()
        grown = await tools.call("a", 1, "num.grow", {})
        assert grown.ok
        await asyncio.wait_for(conn.refreshed.wait(), 10)
        assert "num.added" in [t.name for t in tools.tools_for("a")]
        added = await tools.call("a", 2, "num.added", {"x": 1})
        assert added.result == {"server": "num", "tool": "added", "x": 1}

        peaks = await asyncio.gather(*(tools.call("a", 2, "num.slow", {}) for _ in range(6)))
        assert max(p.result["result"] for p in peaks) == 2  # the server's concurrency limit

        assert await router.check() == {"num": True}  # health: every server answers a ping
        (row,) = router.status()
        assert row["status"] == "up" and row["server"] == "num" and row["restarts"] == 0
        assert SECRET not in repr(router.status())
        assert children() - before  # the server process runs
        # a second run of the same server shares the live process
        again = router.for_run(spec)
        await again.prepare()
        assert again.servers["num"] is conn
    finally:
        await router.aclose()
    assert not children() - before  # no orphaned subprocess


async def test_a_missing_secret_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_TOKEN_X", raising=False)
    monkeypatch.setenv("AEGNTIX_SECRETS", "/nonexistent/secrets.env")
    spec = scenario({"s": stdio("lite.py", env={"TOKEN": "secret:NO_SUCH_TOKEN_X"})})
    router = ToolRouter()
    with pytest.raises(ToolSecretMissing, match=r"secret NO_SUCH_TOKEN_X is not set"):
        await router.for_run(spec).prepare()
    assert router.status() == []  # nothing started


async def test_a_named_tool_the_server_does_not_list_fails_the_start() -> None:
    spec = scenario(
        {"s": stdio("lite.py", "--tools", "2")},
        [{"id": "a", "name": "A", "role": "caller", "tools": ["s.t1", "s.t7"]}],
    )
    router = ToolRouter()
    try:
        with pytest.raises(ToolNotListed, match=r"agent 'a' tools: server 's' lists no tool 't7'"):
            await router.for_run(spec).prepare()
    finally:
        await router.aclose()


async def test_secrets_from_the_file_tenants_and_a_handshake_era_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text(f"export FILE_TOKEN='{SECRET}'\n")
    monkeypatch.setenv("AEGNTIX_SECRETS", str(secrets))
    monkeypatch.delenv("FILE_TOKEN", raising=False)
    spec = scenario({"s": stdio("lite.py", "--grow", env={"TOKEN": "secret:FILE_TOKEN"})})
    router = ToolRouter()
    try:
        tools = router.for_run(spec)
        await tools.prepare()
        assert tools.secrets == (SECRET,)
        # a handshake-era server announcing a new tool list: it is fetched again
        conn = tools.servers["s"]
        conn.refreshed.clear()
        assert (await tools.call("a", 1, "s.grow", {})).ok
        await asyncio.wait_for(conn.refreshed.wait(), 10)
        assert "s.added" in [t.name for t in tools.tools_for("a")]
        assert SECRET not in repr(spec.model_dump())  # the spec holds the reference only
        # another tenant declaring the very same server gets its own process
        other = router.for_run(spec, tenant_id="t2")
        await other.prepare()
        assert other.servers["s"] is not tools.servers["s"]
        assert [r["server"] for r in router.status("t2")] == ["s"]
        assert len(router.status()) == 2
        assert await router.check() == {"s": True}  # a handshake-era server: pinged
    finally:
        await router.aclose()


async def test_a_host_may_restrict_commands_and_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    local = scenario({"s": stdio("lite.py")})
    remote = scenario({"w": {"url": "http://10.0.0.8/mcp"}})
    router = ToolRouter()
    monkeypatch.setenv("AEGNTIX_TOOL_COMMANDS", "node")
    with pytest.raises(ToolNotAllowed, match=r"command '.*' is not permitted on this host"):
        await router.for_run(local).prepare()
    monkeypatch.setenv("AEGNTIX_TOOL_COMMANDS", "none")
    with pytest.raises(ToolNotAllowed, match=r"AEGNTIX_TOOL_COMMANDS: none"):
        await router.for_run(local).prepare()
    monkeypatch.setenv("AEGNTIX_TOOL_URLS", "http://127.0.0.1:")
    with pytest.raises(ToolNotAllowed, match=r"URL http://10\.0\.0\.8/mcp is not permitted"):
        await router.for_run(remote).prepare()
    assert router.status() == []  # nothing was started
