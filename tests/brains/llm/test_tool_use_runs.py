"""A run whose model-backed agents call tools (a real in-process MCP server): what the
timeline records, and a fork that replays it with no model call and no tool call, even when
the fork's server lists other tools than the parent's did."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from mcp.server import MCPServer

from aegntix.engine import Runner, start_scenario
from aegntix.model.events import EventKind
from aegntix.testing import FakeLLM, Reply
from aegntix.testing.fake_llm import Request, default_responder
from aegntix.timeline import SqlStore, verify
from tests.brains.llm.mcp_tools import McpTools, weather_server
from tests.brains.llm.support import llm_scenario, own, signature


def look_then_decide(request: Request) -> Reply:
    """Ask for the forecast first; once a result is in, decide."""
    messages = (request.json or {}).get("messages", [])
    if messages and messages[-1].get("role") != "tool":
        return Reply.calling(("weather__forecast", {"city": "Oslo"}))
    return default_responder(request)


def run_with(store: SqlStore, branch_id: str, served: list[Any] | MCPServer) -> None:
    """Run the branch with a weather server (``served``: its calls) or the server given."""
    server = served if isinstance(served, MCPServer) else weather_server(served)

    async def go() -> None:
        async with McpTools("weather", server) as weather:
            await Runner(store, branch_id, tools=weather).run()

    asyncio.run(go())


def bare_server() -> MCPServer:
    """The weather server with every tool gone (as it lists while its backend is down)."""
    return MCPServer("weather", log_level="CRITICAL")


def test_a_run_records_each_round_and_its_fork_calls_nothing(store: SqlStore, fake: FakeLLM):
    fake.reset(look_then_decide)
    served: list[Any] = []
    parent = start_scenario(store, llm_scenario(fake, steps=2))
    run_with(store, parent.id, served)

    events = list(store.events(parent.id))
    decisions = [e for e in events if e.kind == EventKind.DECISION]
    assert len(decisions) == 6 and fake.count == 12 and len(served) == 6  # 3 agents x 2 steps
    for decision in decisions:
        asked, answered = decision.payload["calls"]
        assert json.loads(asked["reply"])["tool_calls"][0]["name"] == "weather__forecast"
        assert decision.payload["tool_rounds"] == 1 and "action" in json.loads(answered["reply"])
        i = events.index(decision)
        call, result = events[i - 2 : i]  # the tool events come before the decision's own
        assert (call.kind, result.kind) == (EventKind.TOOL_CALL, EventKind.TOOL_RESULT)
        assert call.agent_id == result.agent_id == decision.agent_id
        assert result.payload["result"] == {"result": "light rain, 9 C"}

    paid = fake.count
    child = store.fork(parent.id, 0)
    run_with(store, child.id, served)
    assert fake.count == paid and len(served) == 6  # every round from the cache
    assert signature(own(store, child.id)) == signature(events[child.fork_seq :])
    assert store.get_branch(child.id).head_hash == store.get_branch(parent.id).head_hash
    assert verify(store).ok


def test_a_fork_offers_the_recorded_tools_whatever_the_server_lists_now(
    store: SqlStore, fake: FakeLLM
):
    fake.reset(look_then_decide)
    served: list[Any] = []
    parent = start_scenario(store, llm_scenario(fake, steps=2))
    run_with(store, parent.id, served)
    decision = next(e for e in store.events(parent.id) if e.kind == EventKind.DECISION)
    offered = [t["name"] for t in decision.payload["tools"]]
    assert offered == ["weather.alerts", "weather.forecast", "weather.meet", "weather.station"]

    paid, called = fake.count, len(served)
    child = store.fork(parent.id, 0)
    run_with(store, child.id, bare_server())  # lists no tool: the model would be asked anew
    assert fake.count == paid and len(served) == called
    assert store.get_branch(child.id).head_hash == store.get_branch(parent.id).head_hash
    assert verify(store).ok


def test_a_fork_offers_no_tools_where_its_parent_was_offered_none(store: SqlStore, fake: FakeLLM):
    parent = start_scenario(store, llm_scenario(fake, steps=1))
    run_with(store, parent.id, bare_server())
    decisions = [e for e in store.events(parent.id) if e.kind == EventKind.DECISION]
    assert decisions and all("tools" not in d.payload for d in decisions)

    served: list[Any] = []
    paid = fake.count
    child = store.fork(parent.id, 0)
    run_with(store, child.id, served)  # now it lists four tools
    assert fake.count == paid and served == []
    assert store.get_branch(child.id).head_hash == store.get_branch(parent.id).head_hash
