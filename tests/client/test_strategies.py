"""Injection strategies from the Python client: ``strategy``/``schedule`` on fork and on a
rollout set, defaults as in the CLI, an unknown strategy refused with the choices."""

from __future__ import annotations

import pytest

import aegntix
from aegntix.errors import InvalidRequest
from aegntix.inject.organic import neighbours_of
from aegntix.model.events import EventKind
from aegntix.swarm.topology import build
from tests.support import EXAMPLES

TOWN_HALL = EXAMPLES / "town-hall.yaml"
NEWS = "An independent study finds the barrier will save homes and jobs."


def test_fork_with_a_gradual_schedule_spreads_and_forks_inherit_it(location: str) -> None:
    with aegntix.Sandbox(location) as sandbox:
        main = sandbox.run(TOWN_HALL, steps=3)
        spread = main.fork(2, NEWS, schedule={"steps": 3}).run(4)  # schedule: gradual
        found = [e for e in spread.events() if e.kind == EventKind.INJECTION]
        assert found[0].payload["strategy"] == "gradual"
        assert [e.step for e in found] == [3, 4, 5]
        reached = [a for w in found[0].payload["waves"] for a in w["agents"]]
        assert sorted(reached) == sorted(a.id for a in main.scenario.agents)
        # a fork in the middle of the spread, run on, repeats it exactly (invariant 3)
        mid = spread.fork(4).run()
        assert [e.hash for e in mid.events(from_step=5, to_step=spread.head_step)] == [
            e.hash for e in spread.events(from_step=5)
        ]


def test_an_unknown_strategy_lists_the_choices(location: str) -> None:
    with aegntix.Sandbox(location) as sandbox:
        main = sandbox.run(TOWN_HALL, steps=2)
        with pytest.raises(
            InvalidRequest, match="is not one of direct, broadcast, gradual, organic"
        ):
            main.fork(1, NEWS, strategy="viral")
        with pytest.raises(InvalidRequest, match=r"schedule\.steps"):
            main.fork(1, NEWS, strategy="gradual", schedule={"steps": 99})
        assert len(sandbox.branches()) == 1  # nothing written


def test_a_rollout_set_takes_a_gradual_injection(location: str) -> None:
    with aegntix.Sandbox(location) as sandbox:
        main = sandbox.run(TOWN_HALL, steps=3)
        flood = main.rollouts(2, 2, NEWS, strategy="gradual", schedule={"steps": 2})
        assert flood.injection is not None
        assert flood.injection["schedule"] == {"steps": 2}
        for member in flood.members():
            events = sandbox.branch(member.branch_id).events()
            waves = [e for e in events if e.kind == EventKind.INJECTION]
            assert [e.step for e in waves][:2] == [3, 4]


def test_fork_with_an_organic_schedule_spreads_along_the_small_world(location: str) -> None:
    with aegntix.Sandbox(location) as sandbox:
        main = sandbox.run(EXAMPLES / "rumour_small_world.yaml", steps=3)
        # source/p/max_steps alone imply organic; Ada's acquaintances hear it first
        spread = main.fork(3, NEWS, schedule={"source": "agent:p00", "max_steps": 1}).run(2)
        found = [e for e in spread.events() if e.kind == EventKind.INJECTION]
        assert found[0].payload["strategy"] == "organic"
        assert found[0].payload["content"] == f"Ada Moss mentions: {NEWS}"
        first = found[0].payload["waves"][0]["agents"]
        ada = neighbours_of(build(main.scenario))
        assert ada is not None and first == sorted(ada["p00"])
        assert {e.step for e in found} == {4, 5}
        with pytest.raises(InvalidRequest, match=r"^schedule\.source: 'agent:zed'"):
            main.fork(3, NEWS, strategy="organic", schedule={"source": "agent:zed"})
