"""Which brain decides for an agent: the scenario's brain config with the agent's overrides.

The runner builds brains with a :class:`BrainContext` (the store, tenant, scenario and branch),
so model-backed brains share the database's response cache and attribute what they spend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aegntix.brains.base import Brain
from aegntix.errors import InvalidRequest
from aegntix.model.scenario import AgentSpec, BrainConfig, Scenario
from aegntix.timeline.schema import DEFAULT_TENANT
from aegntix.timeline.store import Store

BrainFactory = Callable[[Scenario, AgentSpec], Brain]


@dataclass(frozen=True, slots=True)
class BrainContext:
    """Where a run happens: model-backed brains cache replies in ``store``'s database
    (tenant-scoped) and name the scenario, branch and agent that paid for each call."""

    store: Store | None = None
    tenant_id: str = DEFAULT_TENANT
    scenario_id: str | None = None
    branch_id: str | None = None


def brain_for_config(
    config: BrainConfig,
    *,
    context: BrainContext | None = None,
    agent_id: str | None = None,
    recorded: Any = None,
) -> Brain:
    """A brain for ``config``. Model-backed kinds resolve their API key now, so a missing
    key fails before anything runs (``ProviderError``, naming the variable only)."""
    if config.kind == "rules":
        from aegntix.brains.rules import RulesBrain

        return RulesBrain(config.temperature)
    if config.kind not in ("openai", "anthropic"):  # pragma: no cover - the schema forbids it
        raise InvalidRequest(f"unknown brain kind '{config.kind}'")
    from aegntix.brains.cache import Payer, cache_for
    from aegntix.brains.credentials import api_key_for
    from aegntix.brains.llm import LLMBrain, Provider
    from aegntix.brains.shared_limits import limits_for

    provider: Provider
    if config.kind == "openai":
        from aegntix.brains.openai import OpenAIProvider

        provider = OpenAIProvider()
    else:
        from aegntix.brains.anthropic import AnthropicProvider

        provider = AnthropicProvider()
    ctx = context or BrainContext()
    payer = Payer(ctx.tenant_id, ctx.scenario_id, ctx.branch_id, agent_id)
    return LLMBrain(
        config,
        provider,
        api_key=api_key_for(config),
        cache=cache_for(ctx.store),
        payer=payer,
        recorded=recorded,
        limits=limits_for(ctx.store),
    )


def brains_for(context: BrainContext) -> BrainFactory:
    """The :data:`BrainFactory` a runner uses for a branch: its model-backed brains share
    one :class:`~aegntix.brains.cache.RecordedReplies` (the scenario's recorded replies)."""
    recorded: Any = None
    if context.store is not None and context.scenario_id is not None:
        from aegntix.brains.cache import RecordedReplies, cache_for

        recorded = RecordedReplies(
            context.store, context.scenario_id, context.tenant_id, cache_for(context.store)
        )

    def factory(scenario: Scenario, agent: AgentSpec) -> Brain:
        return brain_for_config(
            scenario.brain_for(agent), context=context, agent_id=agent.id, recorded=recorded
        )

    return factory


def default_brains(scenario: Scenario, agent: AgentSpec) -> Brain:
    """A :data:`BrainFactory` without a store: model-backed brains cache in memory only."""
    return brain_for_config(scenario.brain_for(agent), agent_id=agent.id)
