"""Outcomes and termination: named metrics a scenario declares, computed from state."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aegntix.mechanics import mechanics_of
from aegntix.model.expressions import evaluate, names_in
from aegntix.model.scenario import Scenario
from aegntix.model.state import State


def expression_names(scenario: Scenario, state: State) -> dict[str, Any]:
    """Names an expression sees: world keys, the engine's ``step``, ``max_steps`` and
    ``n_agents``, and the built-ins of the scenario's mechanics (``mean_stance``, ...)."""
    names: dict[str, Any] = dict(state["world"])
    names["step"] = state["step"]
    names["max_steps"] = scenario.termination.max_steps
    names["n_agents"] = len(scenario.agents)
    names.update(mechanics_of(scenario).builtins(scenario, state))
    return names


def world_names_extra(scenario: Scenario) -> frozenset[str]:
    """The names :func:`world_names` adds to :func:`expression_names` for ``scenario``."""
    if "stance" not in mechanics_of(scenario).agent_names:
        return frozenset()
    from aegntix.swarm.stance_stats import STANCE_METRIC_NAMES

    return STANCE_METRIC_NAMES


def world_names(scenario: Scenario, state: State) -> dict[str, Any]:
    """:func:`expression_names` plus, for scenarios whose agents hold a stance, the
    emergence metrics over every agent (``polarization``, ``bimodality``,
    ``opinion_clusters``): the world's view, for outcomes and termination only (an agent's
    view never holds them: they would be global knowledge and cost every observation)."""
    names = expression_names(scenario, state)
    exprs = (*(o.expr for o in scenario.outcomes.values()), scenario.termination.when or "")
    if "stance" in mechanics_of(scenario).agent_names and _reads_metrics(exprs):
        # Imported here: aegntix.swarm imports this module (through visibility).
        from aegntix.swarm.stance_stats import stance_names

        stances = [
            float(a["stance"]) for a in state["agents"].values() if a.get("stance") is not None
        ]
        for key, value in stance_names(stances).items():
            names.setdefault(key, value)  # a world key of the same name keeps its meaning
    return names


@lru_cache(maxsize=256)
def _reads_metrics(exprs: tuple[str, ...]) -> bool:
    """Whether any of a scenario's outcome or termination expressions reads a metric (they
    cost a sort of every stance, so a scenario that does not use them does not pay)."""
    from aegntix.swarm.stance_stats import STANCE_METRIC_NAMES

    return any(names_in(e) & STANCE_METRIC_NAMES for e in exprs if e)


def _rounded(value: Any) -> Any:
    # Outcomes are compared and shown; 6 decimals keeps float noise out of diffs.
    return round(value, 6) if isinstance(value, float) else value


def compute_outcomes(scenario: Scenario, state: State) -> dict[str, Any]:
    """Every declared outcome; a per-agent one is a ``{agent_id: value}`` mapping."""
    names = world_names(scenario, state)
    result: dict[str, Any] = {}
    for key, spec in scenario.outcomes.items():
        if spec.per_agent:
            result[key] = {
                agent_id: _rounded(evaluate(spec.expr, {**names, **own}, field=f"outcomes.{key}"))
                for agent_id, own in state["agents"].items()
            }
        else:
            result[key] = _rounded(evaluate(spec.expr, names, field=f"outcomes.{key}"))
    return result


def is_terminal(scenario: Scenario, state: State, outcomes: dict[str, Any]) -> bool:
    """True when the last completed step reaches the limit or ``when`` holds."""
    term = scenario.termination
    if term.max_steps is not None and state["completed"] >= term.max_steps:
        return True
    if term.when is None:
        return False
    names = world_names(scenario, state)
    names.update({k: v for k, v in outcomes.items() if not isinstance(v, dict)})
    return bool(evaluate(term.when, names, field="termination.when"))
