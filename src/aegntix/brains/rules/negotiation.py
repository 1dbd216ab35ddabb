"""Bilateral price negotiation with time-dependent concession tactics.

A party's offer moves from its ``target`` to its ``reservation`` as time runs out,
``offer(t) = target + α(t)·(reservation − target)`` with the polynomial family
``α(t) = κ + (1 − κ)·(t/T)^(1/β)`` of Faratin, Sierra & Jennings (1998): β < 1 is Boulware
(holds firm until late), β > 1 a conceder. It accepts by AC-next (Baarslag et al. 2014): the
opposite side's standing offer is accepted when it is at least as good as its own next offer.
A mediator proposes the midpoint of the two sides' standing offers.
"""

from __future__ import annotations

import math
import random

from aegntix.brains.base import Decision, Observation
from aegntix.brains.rules import speech
from aegntix.brains.rules.lexicon import leverage, pressure
from aegntix.brains.rules.phrasing import first_name
from aegntix.brains.rules.reading import read
from aegntix.brains.rules.signals import MESSAGE, clamp, injections, number
from aegntix.model.scenario import NegotiationTerms, Persona

#: Deadline when neither the scenario nor the persona gives one.
DEFAULT_HORIZON = 20
#: κ: the share of the range conceded at t = 0 (0: open exactly at the target).
KAPPA = 0.0
_LOG2_BETA_LIMIT = 3.0  # β in [1/8, 8]
#: At pressure 1 the effective time jumps this share of the remaining way to the deadline.
PRESSURE_JUMP = 0.5
#: At leverage 1 the effective time is set back this share of the time elapsed.
LEVERAGE_SETBACK = 0.5
#: Clock jitter: standard deviation in steps, at neuroticism 1.
NOISE = 1.0
#: Share of the way toward a live mediator proposal (in time) at agreeableness 1.
MEDIATION_PULL = 0.6
_OPPOSITE = {"buy": "sell", "sell": "buy"}
_DECIMALS = (2, 4, 6, 9)
_CLOCK_TOLERANCE = 0.05


def beta(persona: Persona) -> float:
    """Concession shape from personality: agreeable → conceder, conscientious → Boulware."""
    log2 = 4.0 * (persona.agreeableness - 0.5) - 2.0 * (persona.conscientiousness - 0.5)
    return math.pow(2.0, clamp(log2, -_LOG2_BETA_LIMIT, _LOG2_BETA_LIMIT))


def concession(t: float, horizon: float, b: float, kappa: float = KAPPA) -> float:
    """α(t) in [κ, 1]: the share of the target→reservation range given up by time ``t``."""
    share = clamp(t / horizon, 0.0, 1.0) if horizon > 0 else 1.0
    return kappa + (1.0 - kappa) * math.pow(share, 1.0 / b)


def horizon(observation: Observation) -> float:
    """T: a persona ``deadline`` trait, else the scenario's ``max_steps``, else 20."""
    own = number(observation.agent.persona.traits.get("deadline"))
    if own is not None and own > 0:
        return own
    return float(observation.max_steps or DEFAULT_HORIZON)


def pressure_and_leverage(observation: Observation) -> tuple[float, float]:
    """(pressure, leverage) in [0, 1]: a noisy-or over the injections of the step being
    decided (older ones already moved the clock, and that lives on in the offer). An
    explicit ``fields["pressure"]``/``fields["leverage"]`` (0..1) wins over the words; with
    declared arguments the text is read against them (``reading``), else the phrase lists."""
    keep_p = keep_l = 1.0
    for event in injections(observation):
        if event.step != observation.step:
            continue
        p = number(event.fields.get("pressure"))
        lv = number(event.fields.get("leverage"))
        text_p, text_l = _from_text(observation, event.text, p is None and lv is None)
        keep_p *= 1.0 - (text_p if p is None else clamp(p, 0.0, 1.0))
        keep_l *= 1.0 - (text_l if lv is None else clamp(lv, 0.0, 1.0))
    return 1.0 - keep_p, 1.0 - keep_l


def _from_text(observation: Observation, text: str, read_it: bool) -> tuple[float, float]:
    if observation.arguments is None or not read_it:
        return pressure(text), leverage(text)
    found = read(text, observation.agent, observation.arguments, "negotiation")
    # + strengthens this party's hand (leverage), - weakens it (pressure)
    if found.direction > 0:
        return 0.0, found.weight
    return (found.weight, 0.0) if found.direction < 0 else (0.0, 0.0)


def implied_time(offer: float, terms: NegotiationTerms, b: float, deadline: float) -> float:
    """The time at which the concession curve gives ``offer`` (the inverse of α)."""
    assert terms.target is not None and terms.reservation is not None
    span = terms.reservation - terms.target
    share = clamp((offer - terms.target) / span, 0.0, 1.0) if span else 1.0
    share = max(0.0, (share - KAPPA) / (1.0 - KAPPA))
    return deadline * math.pow(share, b)


def clock(
    observation: Observation,
    terms: NegotiationTerms,
    b: float,
    deadline: float,
    rng: random.Random,
) -> float:
    """Effective time t. It runs one step per step from wherever the agent's previous offer
    sits on its curve, so every push below persists in the offer without any memory:
    leverage sets t back a share of the time elapsed, a live mediator proposal pulls t
    toward the time the curve would reach it (by agreeableness), pressure jumps a share of
    the way left to the deadline, and neuroticism adds jitter."""
    persona = observation.agent.persona
    t = float(observation.step)
    previous = number(observation.own.get("offer"))
    if previous is not None:
        floor = observation.step * (1.0 - LEVERAGE_SETBACK)
        t = max(floor, implied_time(previous, terms, b, deadline) + 1.0)
    push, hold = pressure_and_leverage(observation)
    t -= LEVERAGE_SETBACK * hold * t
    proposal = live_mediation(observation)
    if proposal is not None:
        meet = implied_time(proposal, terms, b, deadline)
        if meet > t:
            t += MEDIATION_PULL * persona.agreeableness * (meet - t)
    t += PRESSURE_JUMP * push * max(0.0, deadline - t)
    if persona.neuroticism > 0:
        t += rng.gauss(0.0, NOISE * persona.neuroticism)
    # the deadline is absolute: however far behind its clock, a party is at its reservation
    return max(t, deadline) if observation.step >= deadline else t


def standing_offers(observation: Observation, side: str) -> list[tuple[str, float]]:
    """Current offers of the agents on ``side``, from their public state."""
    found: list[tuple[str, float]] = []
    for agent_id, state in observation.others.items():
        spec = observation.roster.get(agent_id)
        if spec is None or spec.negotiation is None or spec.negotiation.side != side:
            continue
        offer = number(state.get("offer"))
        if offer is not None:
            found.append((agent_id, offer))
    return found


def live_mediation(observation: Observation) -> float | None:
    """The newest price a mediator proposed in the visible window, if any."""
    for event in reversed(observation.visible):
        if event.kind != MESSAGE or event.agent_id is None:
            continue
        spec = observation.roster.get(event.agent_id)
        if spec is not None and spec.negotiation and spec.negotiation.side == "mediate":
            proposal = number(event.fields.get("offer"))
            if proposal is not None:
                return proposal
    return None


def tidy(offer: float, t: float, terms: NegotiationTerms, b: float, deadline: float) -> float:
    """``offer`` with as few decimals as keep its place on the curve (within 0.05 step):
    the offer is the clock's only memory, and cents would stall a Boulware curve that moves
    by less than a cent in its first steps."""
    for decimals in _DECIMALS:
        short = round(offer, decimals)
        if abs(implied_time(short, terms, b, deadline) - t) <= _CLOCK_TOLERANCE:
            return short
    return offer


def next_offer(observation: Observation, terms: NegotiationTerms, rng: random.Random) -> float:
    """What this party would offer now: its concession curve at the effective time, never
    past its reservation and never a step back from its own previous offer."""
    assert terms.target is not None and terms.reservation is not None
    target, reservation = terms.target, terms.reservation
    deadline = horizon(observation)
    b = beta(observation.agent.persona)
    t = clock(observation, terms, b, deadline, rng)
    offer = tidy(
        target + concession(t, deadline, b) * (reservation - target), t, terms, b, deadline
    )
    giving = 1.0 if reservation > target else -1.0  # the direction of a concession
    low, high = min(target, reservation), max(target, reservation)
    offer = clamp(offer, low, high)
    previous = number(observation.own.get("offer"))
    if previous is not None and low <= previous <= high:
        offer = max(offer, previous) if giving > 0 else min(offer, previous)
    return offer


def _best(offers: list[tuple[str, float]], highest: bool) -> tuple[str, float] | None:
    if not offers:
        return None
    return max(offers, key=lambda o: o[1]) if highest else min(offers, key=lambda o: o[1])


def decide(observation: Observation, rng: random.Random) -> Decision:
    terms = observation.agent.negotiation
    assert terms is not None
    if observation.world.get("deal_reached"):
        if rng.random() < 0.5 * observation.agent.persona.extraversion:
            return Decision(action="say", content=speech.closing(observation, rng))
        return Decision(action="pass")
    if terms.side == "mediate":
        return _mediate(observation, rng)
    selling = terms.side == "sell"
    offer = next_offer(observation, terms, rng)
    # a seller wants the highest bid, a buyer the lowest ask
    best = _best(standing_offers(observation, _OPPOSITE[terms.side]), highest=selling)
    if best is not None and (best[1] >= offer if selling else best[1] <= offer):
        name = first_name(observation, best[0])
        content = speech.accept(observation, rng, best[1], name)
        return Decision(action="say", content=content, offer=best[1], accept=True)
    counterpart = (first_name(observation, best[0]), best[1]) if best is not None else None
    content = speech.counter_offer(observation, rng, offer, counterpart)
    return Decision(action="say", content=content, offer=offer)


def _mediate(observation: Observation, rng: random.Random) -> Decision:
    speaks = rng.random() < 0.25 + 0.75 * observation.agent.persona.extraversion
    bid = _best(standing_offers(observation, "buy"), highest=True)
    ask = _best(standing_offers(observation, "sell"), highest=False)
    if bid is None or ask is None:
        if speaks and rng.random() < 0.5:
            return Decision(action="say", content=speech.mediate(observation, rng, None))
        return Decision(action="pass")
    if not speaks:
        return Decision(action="pass")
    proposal = (bid[1] + ask[1]) / 2.0
    if not math.isfinite(proposal):
        return Decision(action="pass")
    proposal = clamp(round(proposal, 2), min(bid[1], ask[1]), max(bid[1], ask[1]))
    named_bid = (first_name(observation, bid[0]), bid[1])
    named_ask = (first_name(observation, ask[0]), ask[1])
    content = speech.mediate(observation, rng, proposal, named_bid, named_ask)
    return Decision(action="say", content=content, offer=proposal)
