"""Replay: a fork of a tool-using branch reads the recorded results (zero calls on the
server side) and reproduces its parent's head hash; a different future calls for real."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aegntix.engine.runner import Runner, start_scenario
from aegntix.model.events import EventKind
from aegntix.model.loading import load_scenario
from aegntix.model.scenario import Scenario
from aegntix.timeline import SqlStore, open_store, verify
from aegntix.timeline.store import Store

from .helpers import REPO, lines


def market(calls: Path) -> Scenario:
    """The shipped example, its server counting calls into ``calls``."""
    scenario = load_scenario(REPO / "examples" / "market_tools.yaml")
    assert scenario.tools is not None
    server = scenario.tools.servers["market"]
    server = server.model_copy(
        update={
            "args": [str(REPO / "examples" / "tools" / "market_server.py")],
            "env": {"MARKET_CALLS_FILE": str(calls)},
        }
    )
    tools = scenario.tools.model_copy(update={"servers": {"market": server}})
    return scenario.model_copy(update={"tools": tools})


def tool_events(store: Store, branch_id: str) -> list[tuple[int, str, str | None, dict[str, Any]]]:
    return [
        (e.step, e.kind, e.agent_id, e.payload)
        for e in store.events(branch_id)
        if e.kind in (EventKind.TOOL_CALL, EventKind.TOOL_RESULT)
    ]


async def test_fork_replays_recorded_results_without_calling(location: str, tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    with open_store(location) as store:
        root = start_scenario(store, market(calls))
        await Runner(store, root.id).run()
        made = lines(calls)
        recorded = tool_events(store, root.id)
        assert made and len(recorded) == 2 * len(made)  # a call and a result per call
        results = [p for _, kind, _, p in recorded if kind == EventKind.TOOL_RESULT]
        assert all(p["name"] == "market.get_price" and "result" in p for p in results)
        world = store.events(root.id)
        prices = [
            e.payload["set"]["world.price"] for e in world if e.payload.get("cause") == "tool"
        ]
        assert prices and all(isinstance(p, float) for p in prices)

        fork = store.fork(root.id, 0)
        runner = Runner(store, fork.id)
        await runner.run()
        assert lines(calls) == made  # no server call
        assert runner.tools.recorder is not None and runner.tools.recorder.live_calls == 0
        assert store.get_branch(fork.id).head_hash == store.get_branch(root.id).head_hash
        assert verify(store).ok


async def test_a_different_future_calls_for_real(store: SqlStore, tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    root = start_scenario(store, market(calls))
    await Runner(store, root.id).run()
    before = len(lines(calls))
    recorded = {
        (s, a, p["call"], p["name"])
        for s, k, a, p in tool_events(store, root.id)
        if k == "tool_call"
    }
    other = store.fork(root.id, 1, seed=12345)  # another seed: other decisions after step 1
    runner = Runner(store, other.id)
    await runner.run()
    mine = [
        (s, a, p["call"], p["name"])
        for s, k, a, p in tool_events(store, other.id)
        if k == "tool_call" and s > 1
    ]
    new = [c for c in mine if c not in recorded]
    assert runner.tools.recorder is not None
    assert runner.tools.recorder.live_calls == len(new) == len(lines(calls)) - before
    assert len(mine) > len(new)  # the calls both futures made were read, not repeated
    assert verify(store).ok


@pytest.mark.parametrize("kind", [EventKind.TOOL_CALL, EventKind.TOOL_RESULT])
def test_tool_events_leave_state_alone(kind: str) -> None:
    from aegntix.model.state import apply_event, empty_state

    state = empty_state()
    apply_event(state, kind, 3, {"call": 0, "name": "m.t"})
    assert state == {**empty_state(), "step": 3}
