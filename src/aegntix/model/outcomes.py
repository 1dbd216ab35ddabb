"""Outcomes and termination: named metrics a scenario declares, computed from state."""

from __future__ import annotations

import statistics
from typing import Any

from aegntix.model.expressions import evaluate
from aegntix.model.scenario import Scenario
from aegntix.model.state import State


def expression_names(scenario: Scenario, state: State) -> dict[str, Any]:
    """Names an expression sees: world keys plus the built-ins of ``BUILTIN_NAMES``."""
    stances = [float(a["stance"]) for a in state["agents"].values() if a.get("stance") is not None]
    names: dict[str, Any] = dict(state["world"])
    names["step"] = state["step"]
    names["max_steps"] = scenario.termination.max_steps
    names["n_agents"] = len(scenario.agents)
    names["mean_stance"] = statistics.fmean(stances) if stances else 0.0
    names["min_stance"] = min(stances) if stances else 0.0
    names["max_stance"] = max(stances) if stances else 0.0
    names["stance_spread"] = (max(stances) - min(stances)) if stances else 0.0
    return names


def _rounded(value: Any) -> Any:
    # Outcomes are compared and shown; 6 decimals keeps float noise out of diffs.
    return round(value, 6) if isinstance(value, float) else value


def compute_outcomes(scenario: Scenario, state: State) -> dict[str, Any]:
    """Every declared outcome; a per-agent one is a ``{agent_id: value}`` mapping."""
    names = expression_names(scenario, state)
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
    names = expression_names(scenario, state)
    names.update({k: v for k, v in outcomes.items() if not isinstance(v, dict)})
    return bool(evaluate(term.when, names, field="termination.when"))
