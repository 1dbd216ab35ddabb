"""Turn order: who acts in a step, and in which order."""

from __future__ import annotations

from aegntix.engine.seeding import rng_for
from aegntix.model.scenario import AgentSpec, Scenario, TurnOrder


def acting_order(scenario: Scenario, branch_seed: int, step: int) -> list[AgentSpec]:
    """Every agent acts each step; ``random`` shuffles them with the step's own RNG."""
    agents = list(scenario.agents)
    if scenario.turn_order is TurnOrder.RANDOM:
        rng_for(branch_seed, step, "__turn_order__").shuffle(agents)
    return agents
