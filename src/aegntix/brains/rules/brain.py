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
from aegntix.brains.rules import incident, negotiation, opinion, speech
from aegntix.brains.rules.signals import number


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
            return opinion.decide(observation, rng, self.temperature)
        return decide(observation, rng)

    async def decide(self, observation: Observation, rng: random.Random) -> Decision:
        return self.decide_now(observation, rng)


def mode(observation: Observation) -> str:
    """Which behaviour drives this agent: negotiation, incident, opinion or discussion."""
    agent = observation.agent
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
}
