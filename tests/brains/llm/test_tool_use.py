"""LLM brains calling an agent's tools (``brains/tool_use.py``): native tool calling against
the fake provider on loopback, tools served by a real in-process MCP server."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest

from aegntix.brains.accounting import Usage, ledger_for
from aegntix.brains.base import RUNTIME_META_KEYS, Decision, Observation
from aegntix.brains.cache import cache_for
from aegntix.brains.llm import LLMBrain
from aegntix.brains.registry import BrainContext, brain_for_config
from aegntix.brains.tool_use import (
    CLOSED_NOTE,
    ToolRequest,
    decode_tool_calls,
    encode_tool_calls,
    outcome_text,
    wire_names,
)
from aegntix.engine.observation import Window, observe
from aegntix.model.scenario import Scenario
from aegntix.model.state import initial_state
from aegntix.testing import FakeLLM, Reply
from aegntix.timeline import open_sqlite_store
from aegntix.tools.base import AgentTools, ToolInfo, ToolOutcome
from tests.brains.llm.mcp_tools import McpTools, Replayed, weather_server
from tests.brains.llm.support import llm_scenario

RAIN = '{"result": "light rain, 9 C"}'  # the server's structured content, as the model reads it
SUNNY = '{"result": "sunny, 24 C"}'
STATION = {"station_id": "X1"}
SAY = {"action": "say", "content": "Rain in Oslo today; I will hold my price."}


@pytest.fixture
def served() -> list[tuple[str, dict[str, Any]]]:
    """The calls that reached the MCP server."""
    return []


@pytest.fixture
def weather(served: list[tuple[str, dict[str, Any]]]) -> McpTools:
    """The weather server's tools: open with ``async with`` in the test (anyio's task groups
    must close in the task that opened them)."""
    return McpTools("weather", weather_server(served))


def view(scenario: Scenario, tools: AgentTools | None) -> Observation:
    agent = scenario.agents[0]
    seen = observe(scenario, initial_state(scenario), agent.id, 1, Window(scenario.memory_window))
    return dataclasses.replace(seen, tools=tools)


def brain(scenario: Scenario, context: BrainContext | None = None) -> LLMBrain:
    agent = scenario.agents[0]
    made = brain_for_config(scenario.brain_for(agent), context=context, agent_id=agent.id)
    assert isinstance(made, LLMBrain)
    return made


async def decide(
    scenario: Scenario, caller: Any, context: BrainContext | None = None
) -> tuple[Decision, AgentTools]:
    tools = AgentTools(caller, scenario.agents[0].id, 1)
    decision = await brain(scenario, context).decide(view(scenario, tools), random.Random(1))
    return decision, tools


def recorded(meta: dict[str, Any] | None) -> dict[str, Any]:
    assert meta is not None
    return {k: v for k, v in meta.items() if k not in RUNTIME_META_KEYS}


async def test_the_model_sees_the_tools_calls_one_and_then_decides(
    fake: FakeLLM, weather: McpTools, served: list[Any]
):
    fake.script(Reply.calling(("weather__forecast", {"city": "Oslo"})), Reply(answer=SAY))
    async with weather:
        decision, tools = await decide(llm_scenario(fake), weather)

    assert decision.content == SAY["content"] and fake.count == 2
    first, second = (r.json for r in fake.requests)
    offered = {t["function"]["name"]: t["function"] for t in first["tools"]}
    assert list(offered) == ["weather__alerts", "weather__forecast", "weather__meet",
                             "weather__station"]  # fmt: skip
    assert offered["weather__forecast"]["description"] == "Today's forecast for a city."
    assert offered["weather__forecast"]["parameters"]["required"] == ["city"]
    assert "tool_choice" not in first and first["response_format"] == {"type": "json_object"}
    assert "You may call your tools first" in first["messages"][1]["content"]
    asked, answered = second["messages"][-2:]
    (call,) = asked["tool_calls"]
    assert asked["role"] == "assistant" and call["type"] == "function"
    assert call["function"] == {"name": "weather__forecast", "arguments": '{"city": "Oslo"}'}
    assert answered == {"role": "tool", "tool_call_id": call["id"], "content": RAIN}
    assert second["tools"] == first["tools"]

    assert served == [("forecast", {"city": "Oslo"})]
    (outcome,) = tools.calls
    assert (outcome.name, outcome.arguments, outcome.result) == (
        "weather.forecast", {"city": "Oslo"}, {"result": "light rain, 9 C"})  # fmt: skip
    meta = recorded(decision.meta)
    assert meta["tool_rounds"] == 1 and meta["fallback"] is None
    asked_text, answer_text = (c["reply"] for c in meta["calls"])
    assert json.loads(asked_text)["tool_calls"][0]["name"] == "weather__forecast"
    assert json.loads(answer_text) == SAY


async def test_two_calls_in_one_turn_run_together_and_are_kept_in_the_order_asked(
    fake: FakeLLM, weather: McpTools
):
    fake.script(
        Reply.calling(("weather__meet", {"who": "a"}), ("weather__meet", {"who": "b"})),
        Reply(answer=SAY),
    )
    async with weather:
        decision, tools = await decide(llm_scenario(fake), weather)
    # Each waits (up to 2 s) for the other: run one after the other, both would wait alone.
    assert [c.result for c in tools.calls] == [{"result": "a met b"}, {"result": "b met a"}]
    results = fake.requests[1].json["messages"][-2:]
    assert [json.loads(m["content"])["result"] for m in results] == ["a met b", "b met a"]
    ids = [c["id"] for c in fake.requests[1].json["messages"][-3]["tool_calls"]]
    assert [m["tool_call_id"] for m in results] == ids and len(set(ids)) == 2
    assert decision.content == SAY["content"]


async def test_a_tool_error_reaches_the_model_as_text_and_the_decision_still_comes(
    fake: FakeLLM, weather: McpTools, served: list[Any]
):
    fake.script(
        Reply.calling(
            ("weather__station", {"station_id": "X1"}),
            ("weather__radar", {}),
            ("weather__forecast", "{not json"),
        ),
        Reply(answer=SAY),
    )
    async with weather:
        decision, tools = await decide(llm_scenario(fake), weather)
    assert decision.content == SAY["content"] and recorded(decision.meta)["fallback"] is None
    texts = [m["content"] for m in fake.requests[1].json["messages"][-3:]]
    assert "station X1 is offline" in texts[0] and texts[0].startswith("error: ")
    assert texts[1].startswith("error: no tool named 'weather__radar'")
    assert texts[2] == "error: the arguments are not valid JSON"
    assert served == [("station", {"station_id": "X1"})]  # only a valid call is made
    (outcome,) = tools.calls
    assert not outcome.ok and "station X1 is offline" in (outcome.error or "")


async def test_at_most_eight_calls_run_in_a_round(
    fake: FakeLLM, weather: McpTools, served: list[Any]
):
    fake.script(Reply.calling(*[("weather__alerts", {"region": f"r{i}"}) for i in range(9)]))
    async with weather:
        _, tools = await decide(llm_scenario(fake), weather)
    assert len(served) == len(tools.calls) == 8
    last = fake.requests[1].json["messages"][-1]["content"]
    assert last == "error: not run: at most 8 calls per round"


async def test_a_provider_failing_between_rounds_leaves_the_rules_and_the_calls_made(
    fake: FakeLLM, weather: McpTools
):
    fake.script(Reply.calling(("weather__forecast", {"city": "Oslo"})), Reply.status_code(400))
    async with weather:
        decision, tools = await decide(llm_scenario(fake), weather)
    meta = recorded(decision.meta)
    assert meta["fallback"] == "provider_error" and "HTTP 400" in meta["error"]
    assert meta["tool_rounds"] == 1 and len(meta["calls"]) == 1  # the paid one is kept
    assert [c.name for c in tools.calls] == ["weather.forecast"]  # the engine records it


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_after_the_round_cap_the_model_is_asked_to_decide_without_tools(
    fake: FakeLLM, weather: McpTools, kind: str
):
    again = Reply.calling(("weather__alerts", {"region": "north"}))
    fake.script(again, again, again, Reply(answer=SAY))
    async with weather:
        decision, tools = await decide(llm_scenario(fake, kind=kind, max_tool_rounds=2), weather)

    assert decision.content == SAY["content"] and len(tools.calls) == 2
    # Two rounds, the closed ask (still calling: refused), its repair.
    assert fake.count == 4
    meta = recorded(decision.meta)
    assert meta["tool_rounds"] == 2 and len(meta["calls"]) == 4
    closed, repair = fake.requests[2].json, fake.requests[3].json
    if kind == "openai":
        assert [r.json.get("tool_choice") for r in fake.requests] == [None, None, "none", "none"]
        assert closed["messages"][-1] == {"role": "user", "content": CLOSED_NOTE}
    else:
        choices = [r.json["tool_choice"] for r in fake.requests]
        assert choices[:2] == [{"type": "any"}] * 2
        assert choices[2:] == [{"type": "tool", "name": "decide"}] * 2
        assert closed["messages"][-1]["content"][-1] == {"type": "text", "text": CLOSED_NOTE}
    assert "the tools are closed" in repair["messages"][-1]["content"]


async def test_anthropic_calls_tools_with_tool_use_blocks(fake: FakeLLM, weather: McpTools):
    fake.script(Reply.calling(("weather__forecast", {"city": "Lisbon"}), text="Let me look."))
    async with weather:
        decision, tools = await decide(llm_scenario(fake, kind="anthropic"), weather)

    assert fake.count == 2 and decision.action == "say"  # the default reply calls decide
    first, second = (r.json for r in fake.requests)
    assert [t["name"] for t in first["tools"]] == ["decide", "weather__alerts",
        "weather__forecast", "weather__meet", "weather__station"]  # fmt: skip
    assert first["tools"][2]["input_schema"]["required"] == ["city"]
    assert first["tool_choice"] == {"type": "any"}
    said, results = second["messages"][-2:]
    text, use = said["content"]
    assert said["role"] == "assistant" and text == {"type": "text", "text": "Let me look."}
    assert use["type"] == "tool_use" and use["input"] == {"city": "Lisbon"}
    assert results == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": use["id"], "content": SUNNY}],
    }
    assert tools.calls[0].result == json.loads(SUNNY)


def test_a_rerun_with_the_recorded_outcomes_asks_the_model_nothing(
    fake: FakeLLM, served: list[Any], tmp_path: Path
):
    fake.script(
        Reply.calling(("weather__forecast", {"city": "Oslo"}), ("weather__station", STATION)),
        Reply.calling(("weather__alerts", {"region": "north"})),
        Reply(answer=SAY),
    )
    scenario = llm_scenario(fake)
    with open_sqlite_store(tmp_path / "t.db") as store:
        context = BrainContext(store=store, scenario_id="s", branch_id="b")

        async def live() -> tuple[Decision, AgentTools, list[ToolInfo]]:
            async with McpTools("weather", weather_server(served)) as weather:
                decision, tools = await decide(scenario, weather, context)
                return decision, tools, list(weather.tools_for(tools.agent_id))

        # (asyncio.run returns once the cache rows written in the background are in)
        first, tools, listed = asyncio.run(live())
        paid, calls = fake.count, len(served)
        assert paid == 3 and calls == 3

        cache_for(store).forget_memory()  # a new process: the database tier answers
        replay = Replayed(listed, tools.calls)
        again, replayed = asyncio.run(decide(scenario, replay, context))

        assert fake.count == paid and len(served) == calls
        assert again == first.model_copy(update={"meta": again.meta})
        assert recorded(again.meta) == recorded(first.meta)
        assert again.meta is not None and again.meta["cached"] is True
        assert [(c.name, c.result, c.error) for c in replayed.calls] == [
            (c.name, c.result, c.error) for c in tools.calls
        ]
        assert cache_for(store).db_hits == 3


def test_every_round_is_billed_and_counted(fake: FakeLLM, tmp_path: Path):
    fake.script(
        dataclasses.replace(Reply.calling(("weather__alerts", {"region": "x"})), tokens=(100, 10)),
        Reply(answer=SAY, tokens=(150, 20)),
    )
    scenario = llm_scenario(fake)
    with open_sqlite_store(tmp_path / "t.db") as store:
        made = brain(scenario, BrainContext(store=store, scenario_id="s", branch_id="b"))

        async def run() -> Decision:
            async with McpTools("weather", weather_server([])) as weather:
                tools = AgentTools(weather, scenario.agents[0].id, 1)
                return await made.decide(view(scenario, tools), random.Random(1))

        meta = recorded(asyncio.run(run()).meta)  # returns once the cache rows are written
        assert made.provider_calls == 2
        assert (meta["tokens_in"], meta["tokens_out"]) == (250, 30)
        assert meta["cost"] == round(250 * 0.0005 + 30 * 0.0015, 10)
        usage = Usage()
        usage.add_decision(meta)
        assert (usage.calls, usage.tokens_in, usage.tokens_out) == (2, 250, 30)
        billed = ledger_for(store, "default").billed(branch_id="b")
        assert (billed["calls"], billed["tokens_in"], billed["tokens_out"]) == (2, 250, 30)


class _NoTools:
    def tools_for(self, agent_id: str) -> list[ToolInfo]:
        return []

    async def call(self, *_: Any) -> Any:  # pragma: no cover - nothing to call
        raise AssertionError("no tools")


# The request bodies of the first decision of the negotiation example, as sent before tools
# existed: a decision without tools must send exactly these bytes (cache keys, golden hashes).
BODIES = {
    "openai": "8cf122877a93aa9bfc9afe8074a572a273002f9ae544a76f01190e3b0013d3b3",
    "anthropic": "9e347698262503fccfff5c231b4bda0fcf8931542cf496c1b9a9cf84d68e53a0",
}


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_without_tools_the_request_bytes_do_not_change(
    fake: FakeLLM, weather: McpTools, kind: str
):
    scenario = llm_scenario(fake, kind=kind)
    off = llm_scenario(fake, kind=kind, max_tool_rounds=0)
    plain = brain(scenario)
    await plain.decide(view(scenario, None), random.Random(1))
    await brain(scenario).decide(view(scenario, AgentTools(_NoTools(), "seller", 1)),
                                 random.Random(1))  # fmt: skip
    cache_for(None).forget_memory()
    async with weather:
        await brain(off).decide(view(off, AgentTools(weather, "seller", 1)), random.Random(1))
    assert fake.count == 2  # the second was the first's cache hit
    assert {hashlib.sha256(r.body).hexdigest() for r in fake.requests} == {BODIES[kind]}


def test_wire_names_are_safe_stable_and_distinct():
    def info(name: str) -> ToolInfo:
        server, _, tool = name.partition(".")
        return ToolInfo(name, server, tool)

    names = ["news.top stories!", "a__b.c", "a.b__c", "market.get_price", "x." + "y" * 80]
    wired = wire_names([info(n) for n in names])
    assert wired == wire_names([info(n) for n in reversed(names)])  # listing order: no matter
    assert {w: i.name for w, i in wired.items() if len(w) < 40} == {
        "a__b__c": "a.b__c",  # sorted first, so it keeps the plain name
        "a__b__c_2": "a__b.c",
        "market__get_price": "market.get_price",
        "news__top_stories_": "news.top stories!",
    }
    long = next(w for w in wired if len(w) >= 40)
    assert len(long) == 64 and wired[long].name.startswith("x.")
    assert list(wire_names([info("decide")])) == ["decide_2"]  # never the answer's own tool


def test_a_reply_that_asks_for_tools_reads_back_as_written():
    asked = [ToolRequest("c1", "weather__forecast", '{"city": "Oslo"}')]
    text = encode_tool_calls(asked, "Let me look.")
    assert decode_tool_calls(text) == (asked, "Let me look.")
    assert decode_tool_calls(json.dumps(SAY)) is None
    assert decode_tool_calls('{"tool_calls": [], "text": "x"}') is None


def test_outcomes_read_the_same_whatever_their_key_order_or_timing():
    live = ToolOutcome("m.q", {}, result={"b": 1, "a": [1.5, "é"]}, latency_ms=12.0)
    again = ToolOutcome("m.q", {}, result={"a": [1.5, "é"], "b": 1}, recorded=True)
    assert outcome_text(live) == outcome_text(again) == '{"a": [1.5, "é"], "b": 1}'
    cut = ToolOutcome("m.q", {}, result="abc", truncated=True)
    assert outcome_text(cut) == "abc\n[cut to the size limit]"
    assert outcome_text(ToolOutcome("m.q", {}, error="timed out")) == "error: timed out"
