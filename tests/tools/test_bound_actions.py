"""Tool-bound actions: the engine calls the action's tool when an agent takes it (arguments
may be expressions over the world), puts the result ``into`` the world before the effects
apply, and records the call; an argument that fails to compute is the call's error."""

from __future__ import annotations

import random
from pathlib import Path

from aegntix.brains.base import Decision, Observation
from aegntix.engine.runner import Runner, start_scenario
from aegntix.model.events import EventKind
from aegntix.timeline import state_at
from aegntix.timeline.store import Store

from .helpers import lines, scenario, stdio


class Acting:
    """Takes ``bad`` at step 1 and ``go`` after; checks the tools it is shown."""

    name = "acting"

    async def decide(self, observation: Observation, rng: random.Random) -> Decision:
        assert observation.tools is not None
        assert [t.name for t in observation.tools.available] == ["s.t1"]
        return Decision(action="act", act="bad" if observation.step == 1 else "go")


async def test_an_action_calls_its_tool(store: Store, tmp_path: Path) -> None:
    count = tmp_path / "calls"
    spec = scenario(
        {"s": stdio("lite.py", "--name", "s", "--tools", "3", env={"COUNT_FILE": str(count)})},
        [{"id": "a", "name": "A", "role": "r", "actions": ["go", "bad"], "tools": ["s.t1"]}],
        steps=3,
        world={"n": 0, "got": None},
        actions={
            "go": {
                "tool": "s.t1",
                "arguments": {"x": "=n * 10 + 5", "note": "==literal"},
                "into": "got",
                "effects": {"n": "n + 1"},
            },
            "bad": {"tool": "s.t1", "arguments": {"x": "=1 / n"}, "into": "got"},
        },
    )
    branch = start_scenario(store, spec)
    await Runner(store, branch.id, brains=lambda s, a: Acting()).run()
    events = [e for e in store.events(branch.id) if e.step >= 1]
    calls = [e.payload for e in events if e.kind == EventKind.TOOL_CALL]
    results = [e.payload for e in events if e.kind == EventKind.TOOL_RESULT]
    assert [c["arguments"] for c in calls] == [
        {"x": "=1 / n"},  # as written: it could not be computed
        {"x": 5, "note": "=literal"},
        {"x": 15, "note": "=literal"},
    ]
    assert "division by zero" in results[0]["error"]
    assert results[2]["result"] == {"server": "s", "tool": "t1", "x": 15}
    assert lines(count) == ["s.t1", "s.t1"]  # the failed one called nothing
    world = state_at(store, branch.id)["world"]
    assert world["got"] == {"server": "s", "tool": "t1", "x": 15} and world["n"] == 2
    # the result is in the world before the action's own events
    kinds = [e.kind for e in events if e.step == 3]
    assert kinds[:4] == ["tool_call", "tool_result", "world", "action"]


class Echoing:
    """Has the server echo text no store would keep raw (a NUL, a lone surrogate)."""

    name = "echoing"

    async def decide(self, observation: Observation, rng: random.Random) -> Decision:
        assert observation.tools is not None
        await observation.tools.call("e.echo", {"text": "a\x00b\ud800c"})
        return Decision(action="pass")


async def test_foreign_text_is_stored_safely(store_on_both: Store) -> None:
    spec = scenario({"e": stdio("lite.py", "--grow")}, steps=1)
    branch = start_scenario(store_on_both, spec)
    await Runner(store_on_both, branch.id, brains=lambda s, a: Echoing()).run()
    (call,) = [e for e in store_on_both.events(branch.id) if e.kind == EventKind.TOOL_CALL]
    (result,) = [e for e in store_on_both.events(branch.id) if e.kind == EventKind.TOOL_RESULT]
    assert call.payload["arguments"] == {"text": "a\ufffdb?c"}
    assert result.payload["result"] == "a\ufffdb?c"
    fork = store_on_both.fork(branch.id, 0)  # found again on replay: no call, same hash
    await Runner(store_on_both, fork.id, brains=lambda s, a: Echoing()).run()
    assert (
        store_on_both.get_branch(fork.id).head_hash == store_on_both.get_branch(branch.id).head_hash
    )
