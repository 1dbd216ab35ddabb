"""Action selection for tabletop exercises (incident response, crisis drills).

Each available action is scored by what it would do to the agent's ``objective``: the
effects are applied to a copy of the world (in order, as the engine will) and the gain is
``objective(world') − objective(world)``, scaled so the best move is ±1. Salient context
adds to a score — an injection naming an action's keywords strongly, a colleague's message
less — and conscientiousness favours steps of the playbook nobody has taken in the window.
The choice is a softmax (Luce choice rule) whose temperature grows with neuroticism.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from aegntix.brains.base import Decision, Observation, VisibleEvent
from aegntix.brains.rules import opinion, speech
from aegntix.brains.rules.lexicon import stem, stems, tokens
from aegntix.brains.rules.reading import action_salience, read
from aegntix.brains.rules.signals import (
    INJECTION,
    MESSAGE,
    number,
    recency,
    taken_actions,
)
from aegntix.errors import ExpressionFailed
from aegntix.model.expressions import evaluate
from aegntix.model.scenario import ActionSpec

#: Softmax temperature: calm agents pick the best action, neurotic ones are erratic.
TEMPERATURE = 0.05
TEMPERATURE_NEUROTICISM = 0.5
#: Score bonus for an action nobody took in the window, at conscientiousness 1.
PLAYBOOK_BONUS = 0.3
#: Score added when a visible injection names the action (times recency).
INJECTION_BOOST = 1.5
#: Score added when another agent's message names the action (times recency).
MESSAGE_BOOST = 0.3
#: With declared arguments, an escalating injection (reading direction +1, full weight)
#: multiplies its boosts by 1 + ESCALATION, an easing one by 1 - ESCALATION.
ESCALATION = 0.5
#: Score for an action matching the agent's role or goals when it has no objective.
ROLE_MATCH = 0.2
_STOP = frozenset({"the", "and", "for", "all", "out", "off", "with", "from", "into", "team"})
_FAILED = (ExpressionFailed, TypeError, ValueError, ArithmeticError)


@lru_cache(maxsize=4096)
def action_terms(name: str, keywords: tuple[str, ...]) -> tuple[tuple[str, ...], frozenset[str]]:
    """(stemmed keyword phrases, stemmed words of the action's name)."""
    phrases = tuple(s for s in (stems(k) for k in keywords) if s.strip())
    words = tokens(name.replace("_", " ").replace("-", " "))
    return phrases, frozenset(stem(w) for w in words if len(w) >= 3 and w not in _STOP)


def salience(text: str, name: str, spec: ActionSpec) -> float:
    """How clearly ``text`` calls for this action, in [0, 1]: a keyword phrase counts 1,
    a word of the action's name 0.5."""
    phrases, name_words = action_terms(name, tuple(spec.keywords))
    said = stems(text)
    hits = sum(1.0 for p in phrases if p in said)
    if name_words:
        hits += 0.5 * sum(1 for w in name_words if f" {w} " in said)
    return min(1.0, hits)


def _names(observation: Observation) -> dict[str, Any]:
    names = dict(observation.world)
    names["stance"] = observation.own.get("stance")
    names["offer"] = observation.own.get("offer")
    return names


def objective_value(expression: str, names: Mapping[str, Any]) -> float | None:
    try:
        value = evaluate(expression, names)
    except _FAILED:
        return None
    return float(value) if isinstance(value, bool) else number(value)


def after(spec: ActionSpec, names: Mapping[str, Any]) -> dict[str, Any] | None:
    """The names after the action's effects, applied in order; None if one fails."""
    world = dict(names)
    try:
        for key, expression in spec.effects.items():
            world[key] = evaluate(expression, world)
    except _FAILED:
        return None
    return world


def gains(observation: Observation) -> dict[str, float] | None:
    """Objective gain of each action, scaled to [-1, 1] (-inf: its effects or the objective
    fail on this world, so the engine would reject it); None without a usable objective."""
    expression = observation.agent.objective
    if not expression:
        return None
    names = _names(observation)
    base = objective_value(expression, names)
    if base is None:
        return None
    raw: dict[str, float] = {}
    for name, spec in observation.actions.items():
        world = after(spec, names)
        value = objective_value(expression, world) if world is not None else None
        raw[name] = value - base if value is not None else -math.inf
    finite = [abs(g) for g in raw.values() if math.isfinite(g)]
    scale = max(finite, default=0.0) or 1.0
    return {name: g / scale if math.isfinite(g) else -math.inf for name, g in raw.items()}


def _boost(observation: Observation, event: VisibleEvent) -> float:
    """The weight of what was heard: an injection strongly (more when it escalates, less when
    it eases, with declared arguments), a colleague's message less; both fade with age."""
    if event.kind != INJECTION:
        return MESSAGE_BOOST * recency(observation, event)
    boost = INJECTION_BOOST * recency(observation, event)
    if observation.arguments is not None:
        found = read(event.text, observation.agent, observation.arguments, "incident")
        boost *= 1.0 + ESCALATION * found.direction * found.weight
    return boost


def heard_salience(
    observation: Observation, event: VisibleEvent, name: str, spec: ActionSpec
) -> float:
    """How clearly a heard text calls for an action: its keywords, and (arguments declared,
    injections only) its meaning (``reading.action_salience``)."""
    found = salience(event.text, name, spec)
    if event.kind == INJECTION and observation.arguments is not None and found < 1.0:
        meaning = action_salience(event.text, name, spec.description, tuple(spec.keywords))
        found = max(found, meaning)
    return found


def scores(observation: Observation) -> dict[str, float]:
    """Total score of each available action: gain (or role match) + salience + playbook."""
    agent = observation.agent
    base = gains(observation)
    profile = " ".join([agent.role, *agent.goals])
    taken = taken_actions(observation)
    heard = [
        (e, _boost(observation, e))
        for e in observation.visible
        if (e.kind == INJECTION or (e.kind == MESSAGE and e.agent_id != agent.id)) and e.text
    ]
    bonus = PLAYBOOK_BONUS * agent.persona.conscientiousness
    result: dict[str, float] = {}
    for name, spec in observation.actions.items():
        score = base[name] if base is not None else ROLE_MATCH * salience(profile, name, spec)
        score += sum(w * heard_salience(observation, e, name, spec) for e, w in heard)
        if name not in taken:
            score += bonus
        result[name] = score
    return result


def temperature(observation: Observation) -> float:
    return TEMPERATURE + TEMPERATURE_NEUROTICISM * observation.agent.persona.neuroticism


def choose(totals: Mapping[str, float], temp: float, rng: random.Random) -> str:
    """Softmax sample (one ``rng.random()`` draw)."""
    top = max(totals.values())
    weights = [(name, math.exp((s - top) / temp)) for name, s in totals.items()]
    threshold = rng.random() * sum(w for _, w in weights)
    for name, weight in weights:
        threshold -= weight
        if threshold < 0:
            return name
    return weights[-1][0]


def decide(observation: Observation, rng: random.Random) -> Decision:
    agent = observation.agent
    has_stance = agent.stance is not None or number(observation.own.get("stance")) is not None
    stance = opinion.updated_stance(observation) if has_stance else None
    totals = scores(observation)
    if max(totals.values()) <= 0:
        # nothing worth doing: an extravert talks it through, others wait
        if rng.random() < opinion.speaking_chance(observation):
            content = (
                speech.opinion(observation, rng, stance)
                if stance is not None
                else speech.discussion(observation, rng)
            )
            extra = {"stance": stance} if stance is not None else {}
            return Decision(action="say", content=content, stance=stance, fields=extra)
        return Decision(action="pass", stance=stance)
    name = choose(totals, temperature(observation), rng)
    content = speech.action(observation, rng, name, observation.actions[name])
    return Decision(action="act", act=name, content=content, stance=stance)
