"""A preview of an injection before anything runs: how the offline rules brain reads it, per
agent (direction, strength, relevance, reason), and a plain verdict. Writes nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aegntix.brains.rules.reading import Mechanic, Reading, read
from aegntix.inject.strategies import Strategy, validated
from aegntix.model.scenario import AgentSpec, Scenario

NO_DIRECTION = (
    "the rules brain reads no direction in this text for anyone: use a stance push "
    "(--stance) or an LLM brain"
)

EXPLICIT_FIELDS = "explicit fields (pressure / leverage 0..1, or stance)"


def mechanic_of(agent: AgentSpec) -> Mechanic:
    """Which rules-brain behaviour drives ``agent`` (as ``brains.rules.mode`` decides)."""
    if agent.negotiation is not None:
        return "negotiation"
    if agent.actions:
        return "incident"
    if agent.stance is not None:
        return "opinion"
    return "discussion"


#: What a positive / negative direction means, per mechanic (for people, not the brain).
MEANING: dict[Mechanic, tuple[str, str]] = {
    "opinion": ("leans for", "leans against"),
    "negotiation": ("holds firmer", "concedes faster"),
    "incident": ("escalates", "eases"),
    "discussion": ("leans for", "leans against"),
}


@dataclass(frozen=True, slots=True)
class AgentPreview:
    agent_id: str
    name: str
    role: str
    mechanic: Mechanic
    brain: str
    reading: Reading

    @property
    def effect(self) -> str:
        """A few words: what this agent will do with it."""
        if self.brain != "rules":
            return f"decided by its {self.brain} brain"
        if not self.reading.effective:
            return "no effect"
        up, down = MEANING[self.mechanic]
        if self.mechanic == "discussion":
            return "hears it (no stance to move)"
        return up if self.reading.direction > 0 else down

    def json(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "name": self.name,
            "role": self.role,
            "mechanic": self.mechanic,
            "brain": self.brain,
            "effect": self.effect,
            **{k: v for k, v in self.reading.json().items() if k != "agent_id"},
        }


@dataclass(frozen=True, slots=True)
class Preview:
    agents: list[AgentPreview]
    verdict: str
    arguments: bool  # whether any agent reads against declared arguments

    def json(self) -> dict[str, Any]:
        return {
            "agents": [a.json() for a in self.agents],
            "verdict": self.verdict,
            "arguments_declared": self.arguments,
        }


def _verdict(agents: Sequence[AgentPreview]) -> str:
    ruled = [a for a in agents if a.brain == "rules"]
    moved = [a for a in ruled if a.reading.effective and a.mechanic != "discussion"]
    if not ruled:
        return "every agent hearing this uses a model brain: the model reads the text itself"
    if not moved:
        if not any(a.mechanic in ("opinion", "discussion") for a in ruled):
            # no stance to push: negotiators take explicit pressure/leverage fields
            return NO_DIRECTION.replace("a stance push (--stance)", EXPLICIT_FIELDS)
        return NO_DIRECTION
    parts = []
    for effect in dict.fromkeys(a.effect for a in moved):
        names = [a.name for a in moved if a.effect == effect]
        who = f"all {len(names)} agents" if len(names) == len(ruled) > 2 else ", ".join(names)
        parts.append(f"{who}: {effect}")
    still = len(ruled) - len(moved)
    tail = f"; {still} unmoved" if still else ""
    return "the rules brain expects an effect — " + "; ".join(parts) + tail


def preview(
    scenario: Scenario,
    content: str,
    *,
    targets: Sequence[str] | None = None,
    strategy: Strategy | str = Strategy.BROADCAST,
    fields: Mapping[str, Any] | None = None,
    world: Mapping[str, Any] | None = None,
    urgency: float = 0.5,
) -> Preview:
    """How each agent that would hear this injection reads it (validated like ``inject``)."""
    payload, _ = validated(scenario, content, targets, strategy, fields, world, urgency)
    audience = set(payload["targets"] or ()) if payload["strategy"] == "direct" else None
    found: list[AgentPreview] = []
    for agent in scenario.agents:
        if audience is not None and agent.id not in audience:
            continue
        mechanic = mechanic_of(agent)
        reading = read(content, agent, scenario.arguments_for(agent), mechanic, payload["fields"])
        brain = scenario.brain_for(agent).kind
        found.append(AgentPreview(agent.id, agent.name, agent.role, mechanic, brain, reading))
    declared = any(scenario.arguments_for(a) is not None for a in scenario.agents)
    return Preview(found, _verdict(found), declared)
