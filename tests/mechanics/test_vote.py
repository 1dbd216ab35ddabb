"""The vote protocol: rules on hand-checkable cases (majority, supermajority, weights, ties,
quorum failures), option checks with field paths, and runs through the engine on SQLite."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from aegntix.brains.base import Decision, Observation
from aegntix.engine import Runner, start_scenario
from aegntix.errors import ScenarioInvalid
from aegntix.mechanics.consensus import WEIGHT_SOURCES, register_weights
from aegntix.mechanics.vote import VoteOptions, tally
from aegntix.model.loading import validate_scenario
from aegntix.model.scenario import AgentSpec, Scenario
from aegntix.timeline import SqlStore

EQUAL = dict.fromkeys("abcdef", 1.0)


def _count(ballots: dict[str, str], n: int | None = None, **options: Any) -> dict[str, Any]:
    opts = VoteOptions.model_validate(options)
    return tally(ballots, EQUAL, opts, n if n is not None else len(ballots))


def test_majority_needs_more_than_half_of_the_votes_cast():
    done = _count({"a": "yes", "b": "yes", "c": "no"})
    assert (done["result"], done["leader"]) == ("decided", "yes")
    assert done["agreement"] == pytest.approx(2 / 3)
    assert done["tally"] == {"yes": 2.0, "no": 1.0}
    # abstentions count toward the quorum but not the tally: 2 of 3 votes cast is a majority
    assert _count({"a": "yes", "b": "abstain", "c": "abstain", "d": "no", "e": "yes"})[
        "leader"
    ] == ("yes")


def test_an_even_split_is_a_tie_and_decides_nothing():
    tie = _count({"a": "yes", "b": "no", "c": "yes", "d": "no"})
    assert (tie["result"], tie["leader"], tie["agreement"]) == ("tie", None, 0.5)
    three = _count({"a": "x", "b": "y", "c": "z"}, options=["x", "y", "z"])
    assert three["result"] == "tie"
    plural = _count({"a": "x", "b": "x", "c": "y", "d": "z"}, options=["x", "y", "z"])
    assert (plural["result"], plural["agreement"]) == ("short", 0.5)  # a plurality is no majority


def test_supermajority_needs_the_threshold_share():
    four_of_six = {"a": "yes", "b": "yes", "c": "yes", "d": "yes", "e": "no", "f": "no"}
    assert _count(four_of_six, rule="supermajority")["result"] == "decided"  # 2/3 reaches 2/3
    three_of_five = {"a": "yes", "b": "yes", "c": "yes", "d": "no", "e": "no"}
    assert _count(three_of_five, rule="supermajority")["result"] == "short"
    assert _count(three_of_five, rule="supermajority", threshold=0.6)["result"] == "decided"
    assert _count(four_of_six, rule="supermajority", threshold=0.75)["result"] == "short"


def test_a_round_without_quorum_decides_nothing_even_when_unanimous():
    failed = _count({"a": "yes", "b": "yes"}, n=5)  # default quorum: 3 of 5
    assert (failed["result"], failed["quorum"], failed["cast"]) == ("no_quorum", 3, 2)
    assert _count({"a": "yes", "b": "yes"}, n=5, quorum=2)["result"] == "decided"
    only_abstained = _count({"a": "abstain", "b": "abstain"}, n=3)
    assert (only_abstained["result"], only_abstained["agreement"]) == ("no_votes", None)


def test_weights_change_who_wins():
    opts = VoteOptions.model_validate({"weights": {"a": 3.0}})
    weighted = tally({"a": "no", "b": "yes", "c": "yes"}, {"a": 3.0, "b": 1.0, "c": 1.0}, opts, 3)
    assert (weighted["result"], weighted["leader"], weighted["agreement"]) == ("decided", "no", 0.6)
    balanced = tally({"a": "no", "b": "yes", "c": "yes"}, {"a": 2.0, "b": 1.0, "c": 1.0}, opts, 3)
    assert balanced["result"] == "tie"


def _spec(vote: Any = None, **top: Any) -> dict[str, Any]:
    agents = [
        {"id": "ann", "name": "Ann", "role": "member", "stance": 0.8},
        {"id": "bob", "name": "Bob", "role": "member", "stance": 0.4},
        {"id": "cy", "name": "Cy", "role": "member", "stance": -0.6},
    ]
    return {
        "name": "Motion",
        "topic": "the motion",
        "seed": 3,
        "mechanics": {"vote": vote} if vote is not None else "vote",
        "agents": agents,
        "termination": {"max_steps": 4, "when": "concluded"},
        "outcomes": {
            "decision": "decision",
            "decided_round": "decided_round",
            "agreement": "agreement",
        },
        **top,
    }


@pytest.mark.parametrize(
    ("vote", "field", "reason"),
    [
        ({"rule": "supermajority", "threshold": 0.4}, "threshold", "out of range"),
        ({"rule": "supermajority", "threshold": 1.5}, "threshold", "out of range"),
        ({"threshold": 0.7}, "threshold", "for rule: supermajority"),
        ({"quorum": 4}, "quorum", "quorum 4 is more than the 3 voters"),
        ({"voters": ["ann", "zed"]}, "voters", "'zed' is not an agent"),
        ({"weights": {"bob": -1}}, "weights.bob", "may not be negative"),
        ({"weights": "degree"}, "weights", "'degree' needs a topology"),
        ({"weights": "seniority"}, "weights", "unknown weights 'seniority'"),
        ({"options": ["yes", "yes"]}, "options", "must differ"),
        ({"rule": "plurality"}, "rule", "Input should be"),
        ({"colour": "red"}, "colour", "Extra inputs"),
    ],
)
def test_bad_options_are_refused_with_their_field(vote: dict[str, Any], field: str, reason: str):
    with pytest.raises(ScenarioInvalid) as caught:
        validate_scenario(_spec(vote))
    fields = {p.field: p.reason for p in caught.value.problems}
    assert f"mechanics.vote.{field}" in fields, fields
    assert reason in fields[f"mechanics.vote.{field}"]


def test_degree_weights_come_from_the_topology(store: SqlStore):
    # a star around cy: cy has degree 2, ann and bob 1 each; cy's no ties their two yeses
    spec = _spec({"weights": "degree"}) | {"topology": {"kind": "star", "hub": "cy"}}
    plan: dict[str, list[str | None]] = {"ann": ["yes"], "bob": ["yes"], "cy": ["no"]}
    branch, _ = _run(store, spec, plan)
    first = next(e.payload for e in store.events(branch.id) if e.payload.get("cause") == "vote")
    assert (first["tally"], first["result"]) == ({"yes": 2.0, "no": 2.0}, "tie")


def test_a_registered_weight_source_weighs_the_ballots(store: SqlStore):
    # the hook a topology fills with each agent's degree: here ann 1, bob 2, cy 3
    register_weights("seniority", lambda s: {a.id: float(i + 1) for i, a in enumerate(s.agents)})
    try:
        plan: dict[str, list[str | None]] = {"ann": ["yes"], "bob": ["yes"], "cy": ["no"]}
        branch, _ = _run(store, _spec({"weights": "seniority"}), plan)
    finally:
        WEIGHT_SOURCES.pop("seniority")
    first = next(e.payload for e in store.events(branch.id) if e.payload.get("cause") == "vote")
    assert (first["tally"], first["result"]) == ({"yes": 3.0, "no": 3.0}, "tie")


class _Ballots:
    """Ann and Bob vote yes from step 1, Cy no; at step 2 Bob switches to no (a tie)."""

    name = "ballots"

    def __init__(self, plan: dict[str, list[str | None]]) -> None:
        self.plan = plan

    async def decide(self, observation: Observation, rng: random.Random) -> Decision:
        steps = self.plan[observation.agent.id]
        ballot = steps[min(observation.step, len(steps)) - 1]
        fields = {} if ballot is None else {"vote": ballot}
        return Decision(action="say", content=f"I vote {ballot}", fields=fields)


def _run(store: SqlStore, spec: dict[str, Any], plan: dict[str, list[str | None]]) -> Any:
    scenario = validate_scenario(spec)
    brain = _Ballots(plan)

    def brains(_: Scenario, __: AgentSpec) -> _Ballots:
        return brain

    branch = start_scenario(store, scenario)
    summary = asyncio.run(Runner(store, branch.id, brains=brains).run())
    return branch, summary


def test_rounds_are_recorded_until_a_decision(store: SqlStore):
    plan: dict[str, list[str | None]] = {
        "ann": [None, "yes", "yes"],
        "bob": [None, "no", "yes"],
        "cy": ["no", "yes", "no"],
    }
    branch, summary = _run(store, _spec({"quorum": 2}), plan)
    rounds = [e.payload for e in store.events(branch.id) if e.payload.get("cause") == "vote"]
    assert [(r["round"], r["result"]) for r in rounds] == [
        (1, "no_quorum"),
        (2, "decided"),
    ]
    assert rounds[1]["ballots"] == {"ann": "yes", "bob": "no", "cy": "yes"}
    assert rounds[1]["tally"] == {"yes": 2.0, "no": 1.0}
    assert summary.completed_step == 2  # termination: concluded
    assert summary.outcomes == {"decision": "yes", "decided_round": 2, "agreement": 0.666667}


def test_a_tie_then_the_round_limit_concludes_undecided(store: SqlStore):
    plan: dict[str, list[str | None]] = {
        "ann": ["yes"],
        "bob": ["no"],
        "cy": ["abstain"],
    }
    branch, summary = _run(store, _spec({"max_rounds": 3}), plan)
    results = [
        e.payload["result"] for e in store.events(branch.id) if e.payload.get("cause") == "vote"
    ]
    assert results == ["tie", "tie", "tie"]
    assert summary.completed_step == 3
    assert summary.outcomes == {"decision": None, "decided_round": None, "agreement": 0.5}


def test_a_non_option_or_a_non_voter_is_rejected(store: SqlStore):
    plan: dict[str, list[str | None]] = {"ann": ["maybe"], "bob": ["yes"], "cy": ["yes"]}
    branch, _ = _run(store, _spec({"voters": ["ann", "bob"], "quorum": 1}), plan)
    rejected = [e.payload.get("reason") for e in store.events(branch.id) if e.kind == "system"]
    assert "'maybe' is not an option (yes, no or abstain)" in rejected
    assert "'cy' is not a voter" in rejected
    first = next(e.payload for e in store.events(branch.id) if e.payload.get("cause") == "vote")
    assert first["ballots"] == {"bob": "yes"}


def test_rules_voters_follow_their_stances_and_a_fork_repeats_the_vote(store: SqlStore):
    scenario = validate_scenario(
        {**_spec({"every": 2}), "mechanics": {"opinion": None, "vote": {"every": 2}}}
    )
    branch = start_scenario(store, scenario)
    summary = asyncio.run(Runner(store, branch.id).run())
    rounds = [e for e in store.events(branch.id) if e.payload.get("cause") == "vote"]
    assert [e.step for e in rounds] == [2]  # every 2 steps; decided at once
    assert rounds[0].payload["ballots"] == {"ann": "yes", "bob": "yes", "cy": "no"}
    assert summary.outcomes["decision"] == "yes"
    child = store.fork(branch.id, at_step=1)
    asyncio.run(Runner(store, child.id).run())
    assert [(e.seq, e.hash) for e in store.events(child.id)] == [
        (e.seq, e.hash) for e in store.events(branch.id)
    ]
