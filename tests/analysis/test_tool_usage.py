"""Tool usage counted from a scenario's timeline: calls, errors, latency per server, every
branch's own events once, and a fork's replayed results apart from real calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aegntix.analysis.tool_usage import tool_usage
from aegntix.engine.runner import start_scenario
from aegntix.model.events import EventKind, NewEvent
from aegntix.model.scenario import Scenario
from aegntix.timeline import open_sqlite_store

SPEC = Scenario.model_validate(
    {
        "name": "usage",
        "world": {"n": 0},
        "agents": [{"id": "a", "name": "A", "role": "r"}, {"id": "b", "name": "B", "role": "r"}],
        "tools": {"servers": {"svc": {"command": "true"}, "web": {"url": "http://127.0.0.1:9/"}}},
        "termination": {"max_steps": 3},
    }
)


def call(
    agent: str, step: int, i: int, name: str, args: dict[str, Any], **result: Any
) -> list[NewEvent]:
    server, _, tool = name.partition(".")
    named = {"call": i, "name": name, "server": server, "tool": tool}
    outcome = {**named, "latency_ms": 1.0, "truncated": False, **result}
    return [
        NewEvent(step, EventKind.TOOL_CALL, {**named, "arguments": args}, agent),
        NewEvent(step, EventKind.TOOL_RESULT, outcome, agent),
    ]


def test_calls_errors_latency_and_replays(tmp_path: Path) -> None:
    with open_sqlite_store(tmp_path / "u.db") as store:
        root = start_scenario(store, SPEC)
        store.append(
            root.id,
            [
                *call("a", 1, 0, "svc.get", {"k": 1}, result=1, latency_ms=10.0),
                *call("a", 1, 1, "svc.put", {"k": 2}, error="tool error: no", latency_ms=3.0),
                *call("b", 1, 0, "web.search", {"q": "x"}, result=[1], latency_ms=7.5),
            ],
        )
        store.append(
            root.id, call("a", 2, 0, "svc.get", {"k": 3}, result=2, latency_ms=30, truncated=True)
        )
        fork = store.fork(root.id, 1)
        store.append(
            fork.id,
            [
                # the parent's step-2 call read back (same outcome): a replay
                *call("a", 2, 0, "svc.get", {"k": 3}, result=2, latency_ms=30, truncated=True),
                # a call the parent never made: live
                *call("a", 2, 1, "svc.get", {"k": 4}, result=5, latency_ms=20.0),
            ],
        )
        # the same call made live again (another latency) is a call, not a replay
        again = store.fork(root.id, 1)
        store.append(again.id, call("a", 2, 0, "svc.get", {"k": 3}, result=2, latency_ms=31.0))

        usage = tool_usage(store, root.scenario_id)

    svc, web = usage["svc"], usage["web"]
    assert (svc.calls, svc.errors, svc.replayed, svc.truncated) == (5, 1, 1, 1)
    assert svc.by_tool == {"get": 4, "put": 1}
    assert (svc.last_error, svc.last_error_step) == ("tool error: no", 1)
    assert sorted(svc.latencies_ms) == [3.0, 10.0, 20.0, 30.0, 31.0]
    assert (svc.p50_ms, svc.max_ms) == (20.0, 31.0)
    assert (web.calls, web.errors, web.replayed, web.p50_ms, web.max_ms) == (1, 0, 0, 7.5, 7.5)
    assert web.last_error is None


def test_no_calls_no_usage(tmp_path: Path) -> None:
    with open_sqlite_store(tmp_path / "u.db") as store:
        root = start_scenario(store, SPEC)
        assert tool_usage(store, root.scenario_id) == {}
