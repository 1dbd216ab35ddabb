"""Properties over generated observations: bounds hold and decisions always validate."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from aegntix.brains.base import Decision, VisibleEvent
from aegntix.brains.rules import RulesBrain
from aegntix.model.scenario import ActionSpec
from tests.brains.builders import make_agent, make_event, make_observation

brain = RulesBrain()
trait = st.floats(0.0, 1.0)
stance = st.floats(-1.0, 1.0)
personas = st.fixed_dictionaries(
    dict.fromkeys(
        ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism"), trait
    )
)
WORDS = [
    "deadline",
    "urgent",
    "walk away",
    "other buyers",
    "strong demand",
    "safe",
    "not",
    "risk",
    "flood",
    "jobs",
    "save",
    "the",
    "park",
    "budget cut",
    "leverage",
    "Dana",
]
texts = st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join) | st.text(max_size=80)
seeds = st.integers(0, 2**32)


@st.composite
def injections(draw: st.DrawFn, step: int) -> list[VisibleEvent]:
    found = []
    for _ in range(draw(st.integers(0, 3))):
        fields: dict[str, Any] = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "pressure": st.floats(-1, 2),
                    "leverage": st.floats(-1, 2),
                    "stance": st.floats(-3, 3),
                },
            )
        )
        when = draw(st.integers(max(1, step - 2), step))
        found.append(make_event(when, draw(texts), **fields))
    return found


def valid(decision: Decision) -> None:
    assert Decision.model_validate(decision.model_dump()) == decision
    if decision.stance is not None:
        assert -1.0 <= decision.stance <= 1.0
    if decision.action == "say":
        assert decision.content.strip()


@st.composite
def negotiation_case(draw: st.DrawFn) -> tuple[Any, ...]:
    s_res = draw(st.floats(10, 10_000))
    s_tgt = s_res + draw(st.floats(0, 5_000))
    b_res = draw(st.floats(10, 10_000))
    b_tgt = b_res - draw(st.floats(0, b_res - 1))
    max_steps = draw(st.integers(1, 60) | st.none())
    step = draw(st.integers(1, 80))
    return s_res, s_tgt, b_res, b_tgt, max_steps, step


@given(negotiation_case(), personas, personas, st.data(), seeds)
def test_offers_stay_in_bounds(
    case: tuple[Any, ...],
    mine: dict[str, float],
    theirs: dict[str, float],
    data: st.DataObject,
    seed: int,
) -> None:
    s_res, s_tgt, b_res, b_tgt, max_steps, step = case
    sell = make_agent(
        "s", negotiation={"side": "sell", "reservation": s_res, "target": s_tgt}, **mine
    )
    buy = make_agent(
        "b", negotiation={"side": "buy", "reservation": b_res, "target": b_tgt}, **theirs
    )
    med = make_agent("m", negotiation={"side": "mediate"}, extraversion=1.0)
    low, high = min(b_tgt, s_tgt), max(b_tgt, s_tgt)
    s_offer = data.draw(st.floats(s_res, s_tgt) | st.none())
    b_offer = data.draw(st.floats(b_tgt, b_res) | st.none())
    m_offer = data.draw(st.floats(low, high) | st.none())
    visible = data.draw(injections(step))
    if m_offer is not None:
        visible.append(make_event(step, "Meet in the middle?", agent="m", offer=m_offer))
    states = {"s": {"offer": s_offer}, "b": {"offer": b_offer}, "m": {"offer": m_offer}}
    for me, others, reservation, target in (
        (sell, [buy, med], s_res, s_tgt),
        (buy, [sell, med], b_res, b_tgt),
    ):
        obs = make_observation(
            me, others, step=step, max_steps=max_steps, states=states, visible=visible
        )
        decision = brain.decide_now(obs, random.Random(seed))
        valid(decision)
        assert decision.offer is not None
        lo, hi = min(reservation, target), max(reservation, target)
        if decision.accept:
            standing = b_offer if me is sell else s_offer
            assert decision.offer == standing
            assert decision.offer >= s_res if me is sell else decision.offer <= b_res
        else:
            assert lo <= decision.offer <= hi
    mediated = brain.decide_now(
        make_observation(med, [sell, buy], step=step, max_steps=max_steps, states=states),
        random.Random(seed),
    )
    valid(mediated)
    if mediated.offer is not None:  # between the two standing offers, so within the targets
        assert b_offer is not None and s_offer is not None
        assert min(b_offer, s_offer) <= mediated.offer <= max(b_offer, s_offer)
        if b_res <= s_tgt and s_res >= b_tgt:
            assert low <= mediated.offer <= high


@given(personas, stance, st.lists(stance, max_size=7), st.integers(1, 30), st.data(), seeds)
def test_stance_stays_in_range(
    persona: dict[str, float],
    mine: float,
    others: list[float],
    step: int,
    data: st.DataObject,
    seed: int,
) -> None:
    me = make_agent("me", stance=data.draw(stance | st.none()), **persona)
    cast = [make_agent(f"o{i}", stance=s) for i, s in enumerate(others)]
    heard = [
        make_event(step, data.draw(texts), agent=a.id, stance=data.draw(st.floats(-5, 5)))
        for a in cast[:3]
    ]
    obs = make_observation(
        me, cast, step=step, own={"stance": mine}, visible=[*data.draw(injections(step)), *heard]
    )
    decision = brain.decide_now(obs, random.Random(seed))
    valid(decision)
    assert decision.stance is not None
    assert decision.action in ("say", "pass")


ACTIONS = {
    "a": ActionSpec(effects={"x": "x + 1"}, keywords=["alpha"]),
    "b": ActionSpec(effects={"x": "x / y"}, keywords=["beta"]),
    "c": ActionSpec(effects={"y": "y - 1", "x": "x * y"}),
}


@given(personas, st.floats(-1e6, 1e6), st.floats(-10, 10), st.data(), seeds)
def test_incident_decisions_are_valid(
    persona: dict[str, float], x: float, y: float, data: st.DataObject, seed: int
) -> None:
    objective = data.draw(st.sampled_from([None, "x", "-abs(x - y)", "x / y", "unknown + 1"]))
    me = make_agent(
        "me",
        actions=list(ACTIONS),
        objective=objective,
        stance=data.draw(stance | st.none()),
        **persona,
    )
    obs = make_observation(
        me,
        [make_agent("o")],
        step=3,
        world={"x": x, "y": y},
        actions=ACTIONS,
        visible=data.draw(injections(3)),
    )
    decision = brain.decide_now(obs, random.Random(seed))
    valid(decision)
    assert decision.action in ("act", "say", "pass")
    if decision.action == "act":
        assert decision.act in ACTIONS


@given(personas, st.lists(texts, max_size=4), seeds)
def test_discussion_decisions_are_valid(
    persona: dict[str, float], said: list[str], seed: int
) -> None:
    me = make_agent("me", goals=["Keep the peace"], **persona)
    heard = [make_event(1, t, agent="o") for t in said]
    obs = make_observation(me, [make_agent("o")], visible=heard)
    valid(brain.decide_now(obs, random.Random(seed)))
