"""Twenty real stdio MCP servers of ten tools each (200 tools, two protocol eras) in one
scenario: tool lists namespaced ``server.tool`` and filtered by allow-lists, calls to all
200 at once, and a run whose agents call across servers (recorded, replayed by a fork
without a call)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aegntix.engine.runner import Runner, start_scenario
from aegntix.model.events import EventKind
from aegntix.timeline.store import Store
from aegntix.tools.router import ToolRouter

from .helpers import CallingBrain, brains, lines, scenario, stdio

SERVERS = 20
TOOLS = 10
SDK_SERVERS = 2


async def test_twenty_servers_two_hundred_tools(store: Store, tmp_path: Path) -> None:
    count = tmp_path / "calls"
    env = {"COUNT_FILE": str(count)}
    # Two built with the SDK (2026-era protocol), the rest stdlib-only handshake-era servers
    # (an SDK server spends a second of CPU importing ``mcp``: twenty would take the test
    # from about one second to over ten on two cores).
    servers = {
        f"s{i:02d}": stdio(
            "numbered.py" if i < SDK_SERVERS else "lite.py",
            "--name",
            f"s{i:02d}",
            "--tools",
            str(TOOLS),
            env=env,
        )
        for i in range(SERVERS)
    }
    agents: list[dict[str, Any]] = [
        {"id": "all", "name": "All", "role": "caller"},
        {"id": "one", "name": "One", "role": "caller", "tools": ["s03.*"]},
        {"id": "two", "name": "Two", "role": "caller", "tools": ["s07.t1", "s19.t9"]},
    ]
    spec = scenario(servers, agents, steps=2)
    router = ToolRouter()
    try:
        tools = router.for_run(spec)
        await tools.prepare()
        everything = [t.name for t in tools.tools_for("all")]
        assert len(everything) == SERVERS * TOOLS == len(set(everything))
        assert everything[0] == "s00.t0" and "s19.t9" in everything
        assert [t.name for t in tools.tools_for("one")] == [f"s03.t{i}" for i in range(TOOLS)]
        assert [t.name for t in tools.tools_for("two")] == ["s07.t1", "s19.t9"]
        rows = router.status()
        assert all(r["status"] == "up" and r["tools"] == TOOLS for r in rows)
        assert {r["protocol"] for r in rows} == {"2026-07-28", "2025-06-18"}

        outcomes = await asyncio.gather(
            *(tools.call("all", 1, name, {"x": i}) for i, name in enumerate(everything))
        )
        for i, (name, outcome) in enumerate(zip(everything, outcomes, strict=True)):
            server, _, tool = name.partition(".")
            assert outcome.result == {"server": server, "tool": tool, "x": i}, outcome.error
        assert sorted(lines(count)) == sorted(everything)

        # a run: every agent calls two tools of other servers per step, concurrently
        def plan(agent: str, step: int) -> list[tuple[str, dict[str, int]]]:
            mine = [t.name for t in tools.tools_for(agent)]
            return [(mine[(step * 7 + k) % len(mine)], {"x": step}) for k in range(2)]

        root = start_scenario(store, spec)
        await Runner(store, root.id, brains=brains(CallingBrain(plan)), tools=router).run()
        results = [e for e in store.events(root.id) if e.kind == EventKind.TOOL_RESULT]
        assert len(results) == 2 * 3 * 2 and all("result" in e.payload for e in results)
        made = len(lines(count))
        fork = store.fork(root.id, 0)
        await Runner(store, fork.id, brains=brains(CallingBrain(plan)), tools=router).run()
        assert len(lines(count)) == made
        assert store.get_branch(fork.id).head_hash == store.get_branch(root.id).head_hash
    finally:
        await router.aclose()
    assert all(r["status"] == "closed" for r in router.status()) or router.status() == []
