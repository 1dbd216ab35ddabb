"""The built-in kinds on hand-checkable cases: opinion, negotiation, incident."""

from __future__ import annotations

import math
from typing import Any

import pytest

from aegntix.brains.base import Decision
from aegntix.engine.effects import decision_events
from aegntix.mechanics import Incident, Negotiation, Opinion, Position, Turn, combined
from aegntix.model.state import State, initial_state
from tests.brains.builders import make_agent
from tests.support import example


def _turn(scenario: Any, state: State, agent_id: str, decision: Decision) -> Turn:
    return Turn(scenario, state, scenario.agent(agent_id), 1, decision, dict(decision.fields))


# -- opinion ------------------------------------------------------------------------------


def test_opinion_builtins_are_the_mean_extremes_and_spread_of_held_stances():
    state = {"agents": {"a": {"stance": -0.5}, "b": {"stance": 0.25}, "c": {}, "d": {"stance": 1}}}
    got = Opinion().builtins(example("town-hall"), state)
    assert got == {
        "mean_stance": pytest.approx(0.25),
        "min_stance": -0.5,
        "max_stance": 1.0,
        "stance_spread": 1.5,
    }


def test_opinion_builtins_are_zero_when_nobody_holds_a_stance():
    got = Opinion().builtins(example("negotiation"), {"agents": {"a": {"offer": 3}}})
    assert got == {"mean_stance": 0.0, "min_stance": 0.0, "max_stance": 0.0, "stance_spread": 0.0}


def test_a_new_stance_is_patched_and_shown_an_unchanged_one_is_not():
    scenario = example("town-hall")
    state = initial_state(scenario)
    agent = scenario.agents[0]
    held = state["agents"][agent.id]["stance"]

    moved = _turn(scenario, state, agent.id, Decision(action="say", content="x", stance=0.5))
    Opinion().on_decision(moved)
    assert moved.patch == {f"agents.{agent.id}.stance": 0.5}
    assert moved.fields == {"stance": 0.5}

    same = _turn(scenario, state, agent.id, Decision(action="say", content="x", stance=held))
    Opinion().on_decision(same)
    assert same.patch == {} and same.fields == {}


def test_opinion_position_is_the_valenced_stance():
    agent = make_agent("a", stance=0.3)
    assert Opinion().position(agent, {"stance": -0.2}) == Position(-0.2, valenced=True)
    assert Opinion().position(agent, {}) == Position(None, valenced=True)


# -- negotiation --------------------------------------------------------------------------


def _deal_state(seller_offer: float | None = 15000.0) -> tuple[Any, State]:
    scenario = example("negotiation")
    state = initial_state(scenario)
    state["agents"]["seller"]["offer"] = seller_offer
    return scenario, state


def test_accepting_the_standing_offer_closes_the_deal_at_that_price():
    scenario, state = _deal_state()
    turn = _turn(
        scenario, state, "buyer", Decision(action="say", content="ok", offer=15000.0, accept=True)
    )
    Negotiation().on_decision(turn)
    assert turn.patch == {"world.deal_reached": True, "world.price": 15000.0}
    assert turn.fields == {"accept": True, "offer": 15000.0}
    assert turn.events == [] and turn.refused is None


def test_accepting_a_price_nobody_offered_is_rejected_but_the_rest_counts():
    scenario, state = _deal_state()
    decision = Decision(action="say", content="ok", offer=14000.0, accept=True)
    events = decision_events(scenario, state, "buyer", 1, decision)
    assert [e.kind for e in events] == ["system", "message"]
    assert events[0].payload == {
        "type": "rejected",
        "reason": "accepted price is not a standing offer",
    }
    assert events[1].payload["fields"] == {"offer": 14000.0}


def test_a_mediator_cannot_accept():
    scenario, state = _deal_state()
    turn = _turn(
        scenario, state, "mediator", Decision(action="say", content="x", offer=15000.0, accept=True)
    )
    Negotiation().on_decision(turn)
    assert "world.deal_reached" not in turn.patch
    assert [e.payload["reason"] for e in turn.events] == ["accepted price is not a standing offer"]


def test_a_non_finite_offer_refuses_the_whole_decision():
    scenario, state = _deal_state()
    decision = Decision(action="say", content="x", offer=math.inf, stance=0.4)
    events = decision_events(scenario, state, "seller", 1, decision)
    assert [(e.kind, e.payload) for e in events] == [
        ("system", {"type": "rejected", "reason": "offer is not a finite number"})
    ]


def test_a_new_offer_is_patched_and_an_offer_from_a_non_negotiator_is_ignored():
    scenario, state = _deal_state(seller_offer=None)
    turn = _turn(scenario, state, "seller", Decision(action="say", content="x", offer=17000.0))
    Negotiation().on_decision(turn)
    assert turn.patch == {"agents.seller.offer": 17000.0}

    town = example("town-hall")
    other = _turn(
        town, initial_state(town), town.agents[0].id, Decision(action="say", content="x", offer=5.0)
    )
    Negotiation().on_decision(other)
    assert other.patch == {} and other.fields == {}


@pytest.mark.parametrize(
    ("offer", "expected"), [(11000.0, -1.0), (13750.0, 0.0), (16500.0, 1.0), (20000.0, 1.0)]
)
def test_a_buyers_position_is_its_offer_within_its_own_range(offer: float, expected: float):
    buyer = example("negotiation").agent("buyer")  # target 11,000, walk-away 16,500
    assert Negotiation().position(buyer, {"offer": offer}) == Position(expected, valenced=False)


def test_negotiation_has_no_say_on_others_and_none_for_a_mediator():
    scenario = example("negotiation")
    assert Negotiation().position(make_agent("x", stance=0.1), {"stance": 0.1}) is None
    assert Negotiation().position(scenario.agent("mediator"), {"offer": 1}) == Position(None, False)
    # together with opinion, the negotiation's say comes first: a mediator has no position
    both = combined(["negotiation", "opinion"])
    assert both.position(scenario.agent("mediator"), {"stance": 0.5}) == Position(None, False)
    assert both.position(make_agent("x"), {"stance": 0.5}) == Position(0.5, True)


def test_negotiation_tells_each_side_its_terms_and_describes_offers():
    scenario = example("negotiation")
    seller = " ".join(Negotiation().prompt_lines(scenario.agent("seller")))
    assert "You are selling" in seller and "13500" in seller and "18000" in seller
    assert "cannot accept" in Negotiation().prompt_lines(scenario.agent("mediator"))[0]
    assert Negotiation().prompt_lines(make_agent("x")) == []
    assert Negotiation().describe({"offer": 16590.8}) == " (offer 16,590.80)"
    assert Negotiation().describe({"stance": 0.2}) == ""


# -- incident -----------------------------------------------------------------------------


def test_incident_adds_no_fields_actions_work_through_the_engine():
    scenario = example("incident-response")
    assert Incident().decision_fields == () and Incident().builtin_names == frozenset()
    agent = next(a for a in scenario.agents if a.actions)
    action = agent.actions[0]
    state = initial_state(scenario)
    events = decision_events(scenario, state, agent.id, 1, Decision(action="act", act=action))
    assert [e.kind for e in events] == ["action", "world"]
    assert events[1].payload["set"]["world._actions_taken"] == {action: 1}
    wrong = decision_events(scenario, state, agent.id, 1, Decision(action="act", act="fly"))
    assert wrong[0].payload == {"type": "rejected", "reason": "'fly' is not one of its actions"}
