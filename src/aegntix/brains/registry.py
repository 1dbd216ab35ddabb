"""Which brain decides for an agent: the agent's own config, else the scenario's."""

from __future__ import annotations

from collections.abc import Callable

from aegntix.brains.base import Brain
from aegntix.errors import InvalidRequest
from aegntix.model.scenario import AgentSpec, BrainConfig, Scenario

BrainFactory = Callable[[Scenario, AgentSpec], Brain]


def brain_for_config(config: BrainConfig) -> Brain:
    if config.kind == "rules":
        from aegntix.brains.rules import RulesBrain

        return RulesBrain()
    raise InvalidRequest(f"unknown brain kind '{config.kind}'")  # pragma: no cover


def default_brains(scenario: Scenario, agent: AgentSpec) -> Brain:
    """The default :data:`BrainFactory`."""
    return brain_for_config(agent.brain or scenario.brain)
