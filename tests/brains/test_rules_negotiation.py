"""Negotiation: concession tactics, AC-next, mediation and injections, run as a small
alternating negotiation loop the test drives itself (the engine is not needed)."""

from __future__ import annotations

import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from aegntix.brains.base import VisibleEvent
from aegntix.brains.rules import RulesBrain
from aegntix.brains.rules.negotiation import beta, next_offer
from aegntix.model.scenario import AgentSpec
from tests.brains.builders import MakeAgent, MakeEvent, MakeObs, make_agent, make_observation

brain = RulesBrain()
SELL = {"side": "sell", "reservation": 800, "target": 1200}
BUY = {"side": "buy", "reservation": 1100, "target": 700}
SEEDS = range(12)


@dataclass
class Result:
    price: float | None
    step: int
    offers: dict[str, list[float]] = field(default_factory=dict)


def negotiate(
    cast: Sequence[AgentSpec],
    *,
    steps: int = 20,
    seed: int = 0,
    window: int = 3,
    injections: Mapping[int, Sequence[tuple[str, Mapping[str, Any], Sequence[str] | None]]] = {},
) -> Result:
    """Round-robin negotiation: each agent sees the window, its own and others' offers;
    an accept ends it when its price is the opposite side's standing offer."""
    state = {a.id: {"stance": None, "offer": None} for a in cast}
    world: dict[str, Any] = {"deal_reached": False, "price": None}
    log: list[VisibleEvent] = []
    result = Result(None, steps, {a.id: [] for a in cast})
    for step in range(1, steps + 1):
        for text, fields, targets in injections.get(step, ()):
            to = tuple(targets) if targets else None
            log.append(VisibleEvent(len(log) + 1, step, "injection", None, text, fields, to))
        for agent in cast:
            others = [o for o in cast if o.id != agent.id]
            visible = [
                e for e in log if e.step > step - window and (e.to is None or agent.id in e.to)
            ]
            obs = make_observation(
                agent,
                others,
                step=step,
                max_steps=steps,
                own=state[agent.id],
                states={o.id: state[o.id] for o in others},
                world=world,
                visible=visible,
            )
            decision = brain.decide_now(obs, random.Random(f"{seed}:{step}:{agent.id}"))
            assert agent.negotiation is not None
            if decision.accept:
                opposite = {"buy": "sell", "sell": "buy"}[agent.negotiation.side]
                standing = [
                    state[o.id]["offer"]
                    for o in others
                    if o.negotiation is not None and o.negotiation.side == opposite
                ]
                assert decision.offer in standing, "an accept must name a standing offer"
                world = {"deal_reached": True, "price": decision.offer}
            elif decision.offer is not None:
                state[agent.id]["offer"] = decision.offer
                result.offers[agent.id].append(decision.offer)
            if decision.action == "say":
                fields = {"offer": decision.offer} if decision.offer is not None else {}
                log.append(
                    VisibleEvent(len(log) + 1, step, "message", agent.id, decision.content, fields)
                )
            if world["deal_reached"]:
                return Result(world["price"], step, result.offers)
    return result


def seller(**persona: Any) -> AgentSpec:
    return make_agent("seller", name="Sam", role="seller", negotiation=SELL, **persona)


def buyer(**persona: Any) -> AgentSpec:
    return make_agent("buyer", name="Dana", role="buyer", negotiation=BUY, **persona)


def outcome(result: Result) -> float:
    """The deal price, or the seller's last offer when there was no deal."""
    return result.price if result.price is not None else result.offers["seller"][-1]


def test_personality_sets_the_concession_shape() -> None:
    assert (
        beta(seller(agreeableness=0.1, conscientiousness=0.9).persona)
        < 1
        < beta(seller(agreeableness=0.9, conscientiousness=0.2).persona)
    )


def test_boulware_seller_gets_a_higher_price_than_a_conceder() -> None:
    boulware = seller(agreeableness=0.1, conscientiousness=0.9)
    conceder = seller(agreeableness=0.9, conscientiousness=0.2)
    for seed in SEEDS:
        hard = negotiate([boulware, buyer()], seed=seed)
        soft = negotiate([conceder, buyer()], seed=seed)
        assert hard.price is not None and soft.price is not None
        assert outcome(hard) > outcome(soft)
        assert soft.step < hard.step  # the conceder also settles sooner


def test_offers_never_cross_reservation_and_never_step_back() -> None:
    for seed in SEEDS:
        result = negotiate([seller(neuroticism=1.0), buyer(neuroticism=1.0)], seed=seed)
        sells, buys = result.offers["seller"], result.offers["buyer"]
        assert all(800 <= o <= 1200 for o in sells)
        assert all(700 <= o <= 1100 for o in buys)
        assert sells == sorted(sells, reverse=True)
        assert buys == sorted(buys)
        if result.price is not None:
            assert 800 <= result.price <= 1100


def test_everyone_reaches_reservation_by_the_deadline(agent: MakeAgent, observe: MakeObs) -> None:
    hard = seller(agreeableness=0.0, conscientiousness=1.0)
    obs = observe(hard, [buyer()], step=20, max_steps=20, own={"offer": 1190.0})
    assert brain.decide_now(obs, random.Random(1)).offer == 800


def test_accepts_a_standing_offer_at_least_as_good_as_its_next(observe: MakeObs) -> None:
    me, them = seller(neuroticism=0.0), buyer()
    mine = next_offer(observe(me, [them], step=10), me.negotiation, random.Random(0))  # type: ignore[arg-type]
    generous = observe(me, [them], step=10, states={"buyer": {"offer": mine + 0.01}})
    decision = brain.decide_now(generous, random.Random(0))
    assert decision.accept and decision.offer == mine + 0.01
    assert decision.action == "say" and "Dana" in decision.content


def test_counters_a_standing_offer_worse_than_its_next(observe: MakeObs) -> None:
    me, them = seller(neuroticism=0.0), buyer()
    mine = next_offer(observe(me, [them], step=10), me.negotiation, random.Random(0))  # type: ignore[arg-type]
    stingy = observe(me, [them], step=10, states={"buyer": {"offer": mine - 50}})
    decision = brain.decide_now(stingy, random.Random(0))
    assert not decision.accept
    assert decision.offer == mine
    assert "Dana" in decision.content


def test_a_buyer_accepts_a_low_enough_ask(observe: MakeObs) -> None:
    obs = observe(buyer(), [seller()], step=18, states={"seller": {"offer": 905.5}})
    decision = brain.decide_now(obs, random.Random(3))
    assert decision.accept and decision.offer == 905.5


def test_pressure_injection_speeds_concession() -> None:
    cast = [seller(), buyer()]
    deadline = [("The board set a hard deadline: close this week or walk away.", {}, ["seller"])]
    explicit = [("A note from finance.", {"pressure": 0.9}, ["seller"])]
    for seed in SEEDS:
        calm = negotiate(cast, seed=seed)
        pushed = negotiate(cast, seed=seed, injections={3: deadline})
        told = negotiate(cast, seed=seed, injections={3: explicit})
        assert outcome(pushed) < outcome(calm)
        assert outcome(told) < outcome(calm)
        assert pushed.step <= calm.step
        # the jump shows at once: the seller's offer at step 3 is already lower
        assert pushed.offers["seller"][2] < calm.offers["seller"][2]


def test_leverage_injection_makes_the_agent_firmer() -> None:
    cast = [seller(), buyer()]
    demand = [("Good news: there are other buyers and strong demand.", {}, ["seller"])]
    prices = []
    for seed in SEEDS:
        calm = negotiate(cast, seed=seed)
        firm = negotiate(cast, seed=seed, injections={6: demand})
        assert firm.offers["seller"][5] > calm.offers["seller"][5]
        prices.append(outcome(firm) - outcome(calm))
    assert statistics.fmean(prices) > 0


def test_pressure_seen_only_by_the_buyer_raises_the_price() -> None:
    cast = [seller(), buyer()]
    urgent = [("Urgent: a competing offer expires today.", {}, ["buyer"])]
    for seed in SEEDS:
        assert outcome(negotiate(cast, seed=seed, injections={4: urgent})) > outcome(
            negotiate(cast, seed=seed)
        )


def test_mediator_proposes_the_midpoint(agent: MakeAgent, observe: MakeObs) -> None:
    mediator = agent(
        "med", name="Max", role="mediator", negotiation={"side": "mediate"}, extraversion=1.0
    )
    states = {"seller": {"offer": 1100.0}, "buyer": {"offer": 800.0}}
    decision = brain.decide_now(
        observe(mediator, [seller(), buyer()], states=states), random.Random(0)
    )
    assert decision.action == "say" and decision.offer == 950.0 and not decision.accept
    no_offers = brain.decide_now(observe(mediator, [seller(), buyer()]), random.Random(0))
    assert no_offers.offer is None


def test_a_live_mediator_proposal_pulls_agreeable_parties_more(
    agent: MakeAgent, observe: MakeObs, event: MakeEvent
) -> None:
    mediator = agent("med", name="Max", role="mediator", negotiation={"side": "mediate"})
    proposal = [event(4, "Let's meet at 950.", agent="med", offer=950.0)]
    moves = {}
    # conscientiousness chosen so every β is 1: only the pull differs
    for agreeableness, conscientiousness in ((0.3, 0.1), (0.5, 0.5), (0.7, 0.9)):
        me = seller(
            agreeableness=agreeableness, conscientiousness=conscientiousness, neuroticism=0.0
        )
        assert beta(me.persona) == pytest.approx(1)
        terms = me.negotiation
        assert terms is not None
        alone = next_offer(observe(me, [buyer(), mediator], step=5), terms, random.Random(0))
        mediated = observe(me, [buyer(), mediator], step=5, visible=proposal)
        pulled = next_offer(mediated, terms, random.Random(0))
        assert 950 < pulled < alone
        moves[agreeableness] = alone - pulled
    assert moves[0.3] < moves[0.5] < moves[0.7]


def test_mediation_speeds_up_a_deal() -> None:
    mediator = make_agent(
        "med", name="Max", role="mediator", negotiation={"side": "mediate"}, extraversion=1.0
    )
    plain = [negotiate([seller(), buyer()], seed=s).step for s in SEEDS]
    mediated = [negotiate([seller(), buyer(), mediator], seed=s).step for s in SEEDS]
    assert statistics.fmean(mediated) < statistics.fmean(plain)


def test_after_the_deal_it_passes_or_closes(observe: MakeObs) -> None:
    world = {"deal_reached": True, "price": 990.0}
    for seed in range(30):
        decision = brain.decide_now(observe(seller(), [buyer()], world=world), random.Random(seed))
        assert decision.offer is None and not decision.accept
        assert decision.action == "pass" or "990" in decision.content


def test_persona_deadline_trait_overrides_max_steps(observe: MakeObs) -> None:
    hurried = make_agent(
        "seller",
        name="Sam",
        role="seller",
        negotiation=SELL,
        neuroticism=0.0,
        traits={"deadline": 5},
    )
    decision = brain.decide_now(observe(hurried, [buyer()], step=5, max_steps=50), random.Random(0))
    assert decision.offer == 800
