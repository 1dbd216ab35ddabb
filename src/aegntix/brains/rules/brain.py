"""``RulesBrain``: the offline, deterministic default brain.

It keeps no state of its own — everything it needs is in the :class:`Observation` (the
engine folds decisions into state) — and draws randomness only from the ``rng`` it is
handed, so a branch replays exactly. Each agent is routed to one behaviour by what its spec
declares: negotiation terms, available actions, a stance, or none of these.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from aegntix.brains.base import Decision, Observation
from aegntix.brains.rules import delphi, incident, negotiation, opinion, speech
from aegntix.brains.rules.signals import number
from aegntix.mechanics.base import Mechanics


class RulesBrain:
    """Negotiation tactics, bounded-confidence opinion dynamics, softmax action selection
    and templated speech, shaped by each agent's Big Five persona."""

    name = "rules"

    def __init__(self, temperature: float = 0.0) -> None:
        # > 0: stances take a seeded random step each turn (see ``opinion.jitter``), so the
        # futures of a rollout set differ by more than who happened to speak
        self.temperature = temperature

    def decide_now(self, observation: Observation, rng: random.Random) -> Decision:
        """The decision, synchronously (the hot path; no I/O)."""
        if self.temperature > 0.0 and mode(observation) == "opinion":
            decision = opinion.decide(observation, rng, self.temperature)
        else:
            decision = decide(observation, rng)
        if "vote" in kinds(observation.mechanics):
            return with_ballot(observation, decision)
        return decision

    async def decide(self, observation: Observation, rng: random.Random) -> Decision:
        return self.decide_now(observation, rng)


def mode(observation: Observation) -> str:
    """Which behaviour drives this agent: negotiation, incident, opinion or discussion."""
    agent = observation.agent
    if "delphi" in kinds(observation.mechanics):
        return "delphi"
    if agent.negotiation is not None:
        return "negotiation"
    if observation.actions:
        return "incident"
    if agent.stance is not None or number(observation.own.get("stance")) is not None:
        return "opinion"
    return "discussion"


def decide(observation: Observation, rng: random.Random) -> Decision:
    """Route the observation to its behaviour."""
    return _BEHAVIOURS[mode(observation)](observation, rng)


_KINDS: dict[str, frozenset[str]] = {}


def kinds(mechanics: Mechanics | None) -> frozenset[str]:
    """The names of the kinds acting in ``mechanics`` (None: the defaults, none of ours)."""
    if mechanics is None:
        return frozenset()
    found = _KINDS.get(mechanics.name)
    if found is None:
        found = _KINDS[mechanics.name] = frozenset(mechanics.name.split("+"))
    return found


def with_ballot(observation: Observation, decision: Decision) -> Decision:
    """``decision`` carrying the ballot the agent's stance (as it now stands) gives."""
    stance = decision.stance
    if stance is None:
        stance = number(observation.own.get("stance"))
    if stance is None:
        stance = observation.agent.stance
    choice = delphi.ballot(observation, stance)
    if choice is None or (observation.own.get("vote") == choice and decision.action == "pass"):
        return decision
    return decision.model_copy(update={"fields": {**decision.fields, "vote": choice}})


def discuss(observation: Observation, rng: random.Random) -> Decision:
    """Open discussion: speak about one's goals, answering the last thing said, as often as
    extraversion (and being addressed) makes it likely."""
    if rng.random() >= opinion.speaking_chance(observation):
        return Decision(action="pass")
    return Decision(action="say", content=speech.discussion(observation, rng))


_BEHAVIOURS: dict[str, Callable[[Observation, random.Random], Decision]] = {
    "negotiation": negotiation.decide,
    "incident": incident.decide,
    "opinion": opinion.decide,
    "discussion": discuss,
    "delphi": delphi.decide,
}
