"""A kind registered by a test — a yes/no vote — drives a scenario end to end with no
engine change: its field reaches the prompt and the reply parser, its decisions become
events, its per-step hook records a tally, its built-in feeds outcomes and termination, and
a fork of its branch reproduces the parent."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from aegntix.brains.base import Brain, Decision, Observation
from aegntix.brains.llm import DECIDE, decide_task
from aegntix.brains.prompting import InvalidReply, parse_decision, system_prompt, user_prompt
from aegntix.engine import Runner, start_scenario
from aegntix.engine.observation import Window, observe
from aegntix.engine.seeding import rng_for
from aegntix.mechanics import (
    BaseMechanics,
    DecisionField,
    Position,
    Turn,
    register,
    unregister,
)
from aegntix.model.events import EventKind, NewEvent
from aegntix.model.loading import validate_scenario
from aegntix.model.scenario import AgentSpec, Scenario
from aegntix.model.state import initial_state
from aegntix.timeline import SqlStore


def _yes_no(value: Any) -> str | None:
    if value is None or value in ("yes", "no"):
        return value
    raise ValueError("a vote is 'yes' or 'no'")


class Vote(BaseMechanics):
    name = "toy-vote"
    decision_fields = (
        DecisionField(
            "vote",
            {
                "anyOf": [{"enum": ["yes", "no"], "type": "string"}, {"type": "null"}],
                "default": None,
            },
            "your vote on the motion: yes or no",
            parse=_yes_no,
        ),
    )
    builtin_names = frozenset({"yes_votes"})
    agent_names = frozenset({"vote"})

    def initial_agent(self, agent: AgentSpec) -> dict[str, Any]:
        return {"vote": None}

    def builtins(self, scenario: Scenario, state: dict[str, Any]) -> dict[str, Any]:
        return {"yes_votes": sum(a.get("vote") == "yes" for a in state["agents"].values())}

    def on_decision(self, turn: Turn) -> None:
        vote = turn.value("vote")
        if vote is None:
            return
        if vote not in ("yes", "no"):
            turn.reject(f"'{vote}' is not a vote")
        elif vote != turn.own.get("vote"):
            turn.patch[f"agents.{turn.agent.id}.vote"] = vote

    def on_step_end(
        self, scenario: Scenario, state: dict[str, Any], step: int, rng: random.Random
    ) -> list[NewEvent]:
        yes = self.builtins(scenario, state)["yes_votes"]
        # the seeded draw shows the hook's rng is the branch's: a fork draws the same
        tally = {"type": "tally", "yes": yes, "of": len(scenario.agents), "draw": rng.random()}
        return [NewEvent(step, EventKind.SYSTEM, tally)]

    def position(self, agent: AgentSpec, own: Mapping[str, Any]) -> Position | None:
        vote = own.get("vote")
        return Position(None if vote is None else 1.0 if vote == "yes" else -1.0)


SPEC = {
    "name": "Toy vote",
    "topic": "the motion",
    "seed": 5,
    "mechanics": "toy-vote",
    "agents": [
        {"id": "ann", "name": "Ann", "role": "member"},
        {"id": "bob", "name": "Bob", "role": "member"},
        {"id": "cy", "name": "Cy", "role": "member"},
    ],
    "termination": {"max_steps": 5, "when": "passed"},
    "outcomes": {
        "passed": "yes_votes > n_agents / 2",
        "votes": {"expr": "vote", "per_agent": True},
    },
}


class Voter:
    """Ann votes yes at once, Bob from step 2, Cy never; Cy also tries a non-vote once."""

    name = "voter"

    async def decide(self, observation: Observation, rng: random.Random) -> Decision:
        me, step = observation.agent.id, observation.step
        if me == "cy" and step == 1:
            return Decision(action="say", content="Abstain!", fields={"vote": "maybe"})
        vote = "yes" if me == "ann" or (me == "bob" and step >= 2) else "no"
        return Decision(action="say", content=f"I vote {vote}", fields={"vote": vote})


def _voters(_: Scenario, __: AgentSpec) -> Brain:
    return Voter()


@pytest.fixture
def vote() -> Iterator[Vote]:
    kind = register(Vote())
    yield kind
    unregister(kind.name)


def test_a_registered_kind_runs_a_scenario_end_to_end(store: SqlStore, vote: Vote):
    scenario = validate_scenario(SPEC)
    branch = start_scenario(store, scenario)
    summary = asyncio.run(Runner(store, branch.id, brains=_voters).run())
    assert summary.completed_step == 2  # Bob's yes at step 2 passes the motion
    assert summary.outcomes == {"passed": True, "votes": {"ann": "yes", "bob": "yes", "cy": "no"}}

    events = list(store.events(branch.id))
    step1 = [(e.kind, e.agent_id, e.payload) for e in events if e.step == 1]
    assert step1[:5] == [
        ("message", "ann", {"text": "I vote yes", "to": None, "fields": {"vote": "yes"}}),
        ("world", "ann", {"set": {"agents.ann.vote": "yes"}, "cause": "decision"}),
        ("message", "bob", {"text": "I vote no", "to": None, "fields": {"vote": "no"}}),
        ("world", "bob", {"set": {"agents.bob.vote": "no"}, "cause": "decision"}),
        ("system", "cy", {"type": "rejected", "reason": "'maybe' is not a vote"}),
    ]
    tallies = [e.payload for e in events if e.payload.get("type") == "tally"]
    assert [(t["yes"], t["of"]) for t in tallies] == [(1, 3), (2, 3)]
    assert tallies[0]["draw"] == rng_for(5, 1, "#mechanics").random()
    # the tally comes after every decision of its step and before the step closes
    kinds = [e.payload.get("type") for e in events if e.step == 2 and e.kind == "system"]
    assert kinds == ["tally", "step_end"]
    assert initial_state(scenario)["agents"]["ann"] == {"vote": None}


def test_a_fork_of_a_registered_kinds_branch_reproduces_its_parent(store: SqlStore, vote: Vote):
    branch = start_scenario(store, validate_scenario(SPEC))
    asyncio.run(Runner(store, branch.id, brains=_voters).run())
    child = store.fork(branch.id, at_step=1)
    asyncio.run(Runner(store, child.id, brains=_voters).run())
    assert [(e.seq, e.hash) for e in store.events(child.id)] == [
        (e.seq, e.hash) for e in store.events(branch.id)
    ]


def test_a_registered_kinds_field_reaches_the_prompt_and_the_reply_parser(vote: Vote):
    scenario = validate_scenario(SPEC)
    obs = observe(scenario, initial_state(scenario), "ann", 1, Window(2))
    system = system_prompt(obs.scenario, obs.topic, obs.agent, obs.mechanics)
    assert '"vote":{"anyOf"' in system and "yes or no" in system
    assert '"offer"' not in system and '"stance"' not in system
    assert "yes_votes" not in user_prompt(obs)  # a built-in, not a fact of the world

    decision = parse_decision('{"action": "say", "content": "Aye", "vote": "yes"}', obs)
    assert decision.fields == {"vote": "yes"}
    with pytest.raises(InvalidReply, match="vote: a vote is 'yes' or 'no'"):
        parse_decision('{"action": "say", "content": "Hm", "vote": "maybe"}', obs)
    # the built-in kinds' fields are not this scenario's: dropped like any chatter
    assert parse_decision('{"action": "pass", "offer": 3}', obs).offer is None
    # a provider's structured output (tool / json_schema) asks for the same fields
    task = decide_task(obs.mechanics)
    assert "vote" in task.schema["properties"] and "offer" not in task.schema["properties"]
    assert decide_task(None) is DECIDE
