"""Opinion dynamics with bounded confidence.

An agent's stance x ∈ [-1, 1] moves toward the stances it hears that lie within its
confidence bound ε, by a convergence rate μ — Deffuant et al. (2000) for the pairwise rule,
Hegselmann & Krause (2002) for averaging over every opinion in bound. Stances outside ε are
ignored, which is what lets clusters and polarisation emerge. Injections (news, briefings)
push x toward their direction by η, a susceptibility that grows with neuroticism.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping

from aegntix.brains.base import Decision, Observation, VisibleEvent
from aegntix.brains.rules import speech
from aegntix.brains.rules.reading import read
from aegntix.brains.rules.signals import INJECTION, addressed_to_me, clamp, injections, number
from aegntix.model.scenario import Persona

_INF = math.inf

#: Weight of a stance known only from public state, against one heard in a message (1.0).
PUBLIC_WEIGHT = 0.5
#: Pull back toward the initial stance per step, at conscientiousness 1.
ANCHOR = 0.1


def confidence_bound(persona: Persona) -> float:
    """ε: open agents listen to opinions further from their own."""
    return 0.1 + 0.7 * persona.openness


def convergence_rate(persona: Persona) -> float:
    """μ: agreeable agents move further toward what they accept."""
    return 0.05 + 0.45 * persona.agreeableness


def susceptibility(persona: Persona) -> float:
    """η: neurotic agents react more strongly to news."""
    return 0.15 + 0.7 * persona.neuroticism


def current_stance(observation: Observation) -> float:
    own = number(observation.own.get("stance"))
    if own is None:
        own = observation.agent.stance if observation.agent.stance is not None else 0.0
    return clamp(own, -1.0, 1.0)


def heard_stances(observation: Observation) -> dict[str, tuple[float, float]]:
    """``{agent_id: (stance, weight)}``: the latest stance each other agent expressed in a
    visible message or action (weight 1), else its public stance (``PUBLIC_WEIGHT``)."""
    # ``number``'s common case (a finite float) inline: this runs per stance heard
    me = observation.agent.id
    pool: dict[str, tuple[float, float]] = {}
    for event in observation.visible:
        speaker = event.agent_id
        if speaker is None or speaker == me or event.kind == INJECTION:
            continue
        stance = event.fields.get("stance")
        if type(stance) is not float or not -_INF < stance < _INF:
            stance = number(stance)
            if stance is None:
                continue
        pool[speaker] = (-1.0 if stance < -1.0 else 1.0 if stance > 1.0 else stance, 1.0)
    for agent_id, state in observation.others.items():
        if agent_id == me or agent_id in pool:
            continue
        stance = state.get("stance")
        if type(stance) is not float or not -_INF < stance < _INF:
            stance = number(stance)
            if stance is None:
                continue
        pool[agent_id] = (
            -1.0 if stance < -1.0 else 1.0 if stance > 1.0 else stance,
            PUBLIC_WEIGHT,
        )
    return pool


def social_update(
    x: float, pool: Mapping[str, tuple[float, float]], epsilon: float, mu: float
) -> float:
    """x moved by μ toward the weighted mean of the opinions within ε of it."""
    total = weight_sum = 0.0
    for stance, weight in pool.values():
        gap = stance - x
        if -epsilon <= gap <= epsilon:  # abs(gap) <= epsilon, without the call
            total += weight * gap
            weight_sum += weight
    return x + mu * total / weight_sum if weight_sum > 0 else x


def injection_direction(observation: Observation, event: VisibleEvent) -> tuple[float, float, bool]:
    """(direction, weight, is_target): an explicit ``fields["stance"]`` is a target stance;
    else how this agent reads the text (``reading``: the declared arguments and the word
    lists), a push toward ±1 with weight strength × salience."""
    explicit = number(event.fields.get("stance"))
    if explicit is not None:
        return clamp(explicit, -1.0, 1.0), 1.0, True
    found = read(event.text, observation.agent, observation.arguments, "opinion")
    return found.direction, found.weight, False


def injection_update(observation: Observation, x: float, eta: float) -> float:
    """Apply this step's injections, in order. Older ones already moved the stance when
    they were new (the engine folded that decision), so they are not applied again."""
    for event in injections(observation):
        if event.step != observation.step:
            continue
        direction, weight, is_target = injection_direction(observation, event)
        if is_target:
            x += eta * (direction - x)
        elif direction != 0.0 and weight > 0.0:
            x += eta * weight * ((1.0 if direction > 0 else -1.0) - x)
    return x


def updated_stance(observation: Observation) -> float:
    persona = observation.agent.persona
    x = current_stance(observation)
    initial = observation.agent.stance if observation.agent.stance is not None else x
    x = social_update(
        x, heard_stances(observation), confidence_bound(persona), convergence_rate(persona)
    )
    x += ANCHOR * persona.conscientiousness * (initial - x)
    x = injection_update(observation, x, susceptibility(persona))
    return round(clamp(x, -1.0, 1.0), 6)


def speaking_chance(observation: Observation) -> float:
    """Extraversion; being spoken to raises it (an agent at 0 never speaks)."""
    e = observation.agent.persona.extraversion
    return e + (1.0 - e) * 0.5 * e if addressed_to_me(observation) else e


#: Standard deviation of a stance's random step per turn at temperature 1 and neuroticism 0.5.
JITTER = 0.1


def jitter(observation: Observation, rng: random.Random, temperature: float) -> float:
    """A seeded random step for this turn, sd = JITTER × temperature × (0.25 + 1.5 ×
    neuroticism): a calm agent still wavers a little, a neurotic one most. At temperature 0
    nothing is drawn, so scenarios without it replay exactly as before."""
    if temperature <= 0.0:
        return 0.0
    wobble = 0.25 + 1.5 * observation.agent.persona.neuroticism
    return rng.gauss(0.0, JITTER * temperature * wobble)


def decide(observation: Observation, rng: random.Random, temperature: float = 0.0) -> Decision:
    stance = updated_stance(observation)
    if temperature > 0.0:
        stance = round(clamp(stance + jitter(observation, rng, temperature), -1.0, 1.0), 6)
    if rng.random() >= speaking_chance(observation):
        # a quiet agent still changes its mind: the engine applies ``stance`` from a pass
        return Decision(action="pass", stance=stance)
    content = speech.opinion(observation, rng, stance)
    # carry the stance even when unchanged, so listeners hear it
    return Decision(action="say", content=content, stance=stance, fields={"stance": stance})
