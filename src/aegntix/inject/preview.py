"""A preview of an injection before anything runs: who hears it at which step (its
strategy's plan), how the offline rules brain reads it, per agent (direction, strength,
relevance, reason), and a plain verdict. Writes nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aegntix.brains.rules.reading import Mechanic, Reading, read
from aegntix.inject.base import Spread
from aegntix.inject.organic import neighbours_of
from aegntix.inject.registry import DEFAULT, strategy_named
from aegntix.inject.strategies import validated
from aegntix.model.scenario import AgentSpec, Scenario
from aegntix.swarm.topology import build

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
    step: int  # the step it first hears the injection at

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
            "step": self.step,
            **{k: v for k, v in self.reading.json().items() if k != "agent_id"},
        }


@dataclass(frozen=True, slots=True)
class Preview:
    agents: list[AgentPreview]
    verdict: str
    arguments: bool  # whether any agent reads against declared arguments
    strategy: str
    schedule: list[tuple[int, list[str]]]  # (step, agents first hearing it then), in order

    def json(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "schedule": [{"step": step, "agents": agents} for step, agents in self.schedule],
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
    strategy: str = DEFAULT,
    schedule: Mapping[str, Any] | None = None,
    fields: Mapping[str, Any] | None = None,
    world: Mapping[str, Any] | None = None,
    urgency: float = 0.5,
    seed: int = 0,
    step: int = 1,
) -> Preview:
    """Who hears this injection when, and how each of them reads it (validated like
    ``inject``). ``seed`` and ``step``: the branch it would land in and the step it lands at
    (a gradual spread's order is drawn from them)."""
    payload, _ = validated(
        scenario, content, targets, strategy, fields, world, urgency, schedule=schedule
    )
    kind = strategy_named(payload["strategy"])
    # the scenario's graph, generated as the run records it (an organic spread follows it)
    waves = kind.plan(payload, Spread(scenario, seed, step, neighbours_of(build(scenario))))
    everyone = [a.id for a in scenario.agents]
    plan = [(step + w.offset, list(w.agents) if w.agents else everyone) for w in waves]
    hears_at: dict[str, int] = {}
    for at, agents in plan:
        for agent_id in agents:
            hears_at.setdefault(agent_id, at)
    found: list[AgentPreview] = []
    for agent in scenario.agents:
        if agent.id not in hears_at:
            continue
        mechanic = mechanic_of(agent)
        reading = read(content, agent, scenario.arguments_for(agent), mechanic, payload["fields"])
        brain = scenario.brain_for(agent).kind
        found.append(
            AgentPreview(
                agent.id, agent.name, agent.role, mechanic, brain, reading, hears_at[agent.id]
            )
        )
    declared = any(scenario.arguments_for(a) is not None for a in scenario.agents)
    return Preview(found, _verdict(found), declared, kind.name, plan)
