"""The brain as a whole: protocol, routing, determinism, speech."""

from __future__ import annotations

import asyncio
import random

from aegntix.brains.base import Brain, Observation
from aegntix.brains.rules import RulesBrain, mode
from aegntix.model.scenario import ActionSpec
from tests.brains.builders import MakeAgent, MakeEvent, MakeObs

brain = RulesBrain()
SELL = {"side": "sell", "reservation": 800, "target": 1200}
BUY = {"side": "buy", "reservation": 1100, "target": 700}


def test_it_is_a_brain() -> None:
    assert isinstance(brain, Brain)
    assert brain.name == "rules"


def test_async_decide_matches_decide_now(agent: MakeAgent, observe: MakeObs) -> None:
    obs = observe(agent("ann", stance=0.3), [agent("bo", stance=-0.1)])
    expected = brain.decide_now(obs, random.Random(7))
    assert asyncio.run(brain.decide(obs, random.Random(7))) == expected


def test_routing_follows_the_agent_spec(agent: MakeAgent, observe: MakeObs) -> None:
    act = {"go": ActionSpec()}
    assert mode(observe(agent("a", negotiation=SELL, stance=0.2), actions=act)) == "negotiation"
    assert mode(observe(agent("a", stance=0.2), actions=act)) == "incident"
    assert mode(observe(agent("a", stance=0.2))) == "opinion"
    assert mode(observe(agent("a"), own={"stance": 0.1})) == "opinion"
    assert mode(observe(agent("a"))) == "discussion"


def _cases(agent: MakeAgent, observe: MakeObs, event: MakeEvent) -> list[Observation]:
    chat = [
        event(2, "Lee here: the budget is tight.", agent="lee"),
        event(3, "Breaking: the river flooded again."),
    ]
    lee = agent("lee", name="Lee", role="treasurer", stance=-0.4)
    return [
        observe(
            agent("sam", name="Sam", role="seller", negotiation=SELL),
            [agent("dana", name="Dana", role="buyer", negotiation=BUY)],
            step=5,
            states={"dana": {"offer": 850.0}},
            own={"offer": 1150.0},
        ),
        observe(
            agent("ann", role="resident", stance=0.2, extraversion=0.6), [lee], step=3, visible=chat
        ),
        observe(
            agent("ines", role="commander", actions=["isolate"], objective="-risk"),
            [lee],
            step=3,
            world={"risk": 0.5},
            visible=chat,
            actions={"isolate": ActionSpec(effects={"risk": "risk * 0.5"})},
        ),
        observe(
            agent("gus", role="guest", goals=["Find a quiet table"], extraversion=0.7),
            [lee],
            step=3,
            visible=chat,
        ),
    ]


def test_same_observation_and_seed_give_the_same_decision(
    agent: MakeAgent, observe: MakeObs, event: MakeEvent
) -> None:
    for obs in _cases(agent, observe, event):
        for seed in range(20):
            assert brain.decide_now(obs, random.Random(seed)) == brain.decide_now(
                obs, random.Random(seed)
            )


def test_different_seeds_may_differ(agent: MakeAgent, observe: MakeObs, event: MakeEvent) -> None:
    for obs in _cases(agent, observe, event):
        decisions = {brain.decide_now(obs, random.Random(s)).model_dump_json() for s in range(30)}
        assert len(decisions) > 1


def test_it_draws_only_from_the_rng_it_is_handed(
    agent: MakeAgent, observe: MakeObs, event: MakeEvent
) -> None:
    cases = _cases(agent, observe, event)
    random.seed(1)
    first = [brain.decide_now(obs, random.Random(3)) for obs in cases]
    random.seed(2)
    state = random.getstate()
    second = [brain.decide_now(obs, random.Random(3)) for obs in cases]
    assert first == second
    assert random.getstate() == state  # the global generator was not touched


def test_speech_names_the_last_speaker_and_quotes_them(
    agent: MakeAgent, observe: MakeObs, event: MakeEvent
) -> None:
    lee = agent("lee", name="Lee Park", role="engineer", stance=-0.6)
    said = [event(2, "Flooding will cost us millions every year.", agent="lee", stance=-0.6)]
    me = agent(
        "ann",
        name="Ann",
        role="resident",
        stance=0.4,
        extraversion=1.0,
        goals=["protect the river"],
    )
    lines = [
        brain.decide_now(observe(me, [lee], step=2, visible=said), random.Random(s)).content
        for s in range(40)
    ]
    assert all(line.strip() for line in lines)
    # named in full when cited, by first name when answered
    assert all("Lee" in line or "Flooding will cost us" in line for line in lines)
    assert sum("Lee" in line for line in lines) > 20
    assert any('"Flooding will cost us millions every year"' in line for line in lines)
    assert len(set(lines)) >= 3  # several templates, chosen by the rng


def test_speech_answers_the_one_who_addressed_the_agent(
    agent: MakeAgent, observe: MakeObs, event: MakeEvent
) -> None:
    cast = [agent("lee", name="Lee", role="engineer"), agent("kim", name="Kim", role="mayor")]
    said = [
        event(3, "Ann, what do you need?", agent="kim", to=["ann"]),
        event(3, "Nobody asked me.", agent="lee"),
    ]
    me = agent("ann", name="Ann", role="resident", goals=["Fix the roads"], extraversion=1.0)
    for seed in range(20):
        line = brain.decide_now(observe(me, cast, step=3, visible=said), random.Random(seed))
        assert line.action == "say" and "Kim" in line.content


def test_negotiation_speech_reflects_role_and_offers(agent: MakeAgent, observe: MakeObs) -> None:
    me = agent("sam", name="Sam", role="seller", negotiation=SELL)
    dana = agent("dana", name="Dana", role="buyer", negotiation=BUY)
    obs = observe(me, [dana], step=4, states={"dana": {"offer": 900.0}})
    lines = {brain.decide_now(obs, random.Random(s)).content for s in range(30)}
    assert all("Dana" in line and "900" in line for line in lines)
    assert any("seller" in line for line in lines)
    assert len(lines) >= 3


def test_discussion_without_goals_or_history_still_speaks(
    agent: MakeAgent, observe: MakeObs
) -> None:
    decision = brain.decide_now(observe(agent("x", extraversion=1.0)), random.Random(0))
    assert decision.action == "say" and decision.content.strip()


def test_huge_inputs_still_give_a_valid_decision(
    agent: MakeAgent, observe: MakeObs, event: MakeEvent
) -> None:
    blob = "x" * 3999
    long_name = "N" * 200
    cast = [agent("lee", name=long_name, role="r" * 200, stance=0.5)]
    me = agent(
        "ann", name=long_name, role="r" * 200, goals=["w " * 499], stance=0.1, extraversion=1.0
    )
    said = [event(2, blob, agent="lee", stance=0.5), event(2, blob)]
    for seed in range(20):
        decision = brain.decide_now(observe(me, cast, step=2, visible=said), random.Random(seed))
        assert decision.action == "say" and len(decision.content) <= 1000
