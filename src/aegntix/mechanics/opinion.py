"""Opinion: each agent holds a stance on the topic, -1 (against) to 1 (for)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aegntix.mechanics.base import BaseMechanics, DecisionField, Position, State, Turn

if TYPE_CHECKING:
    from aegntix.brains.base import Decision, Observation
    from aegntix.model.scenario import AgentSpec, Scenario

STANCE = DecisionField(
    "stance",
    {
        "anyOf": [{"maximum": 1.0, "minimum": -1.0, "type": "number"}, {"type": "null"}],
        "default": None,
    },
    "your opinion on the topic now, from -1 (strongly against) to 1 (strongly for)",
)


class Opinion(BaseMechanics):
    """A decision's ``stance`` becomes the agent's stance; expressions read the group's
    mean, extremes and spread; the stance is the agent's (valenced) position."""

    name = "opinion"
    decision_fields = (STANCE,)
    builtin_names = frozenset({"mean_stance", "stance_spread", "min_stance", "max_stance"})
    agent_names = frozenset({"stance"})

    def initial_agent(self, agent: AgentSpec) -> dict[str, Any]:
        return {"stance": agent.stance}

    def builtins(self, scenario: Scenario, state: State) -> dict[str, Any]:
        stances = [
            float(a["stance"]) for a in state["agents"].values() if a.get("stance") is not None
        ]
        if not stances:
            return dict.fromkeys(("mean_stance", "min_stance", "max_stance", "stance_spread"), 0.0)
        return {
            # exactly statistics.fmean (fsum / n), without its checks: this runs per observer
            "mean_stance": math.fsum(stances) / len(stances),
            "min_stance": min(stances),
            "max_stance": max(stances),
            "stance_spread": max(stances) - min(stances),
        }

    def on_decision(self, turn: Turn) -> None:
        stance = turn.decision.stance
        if stance is not None and stance != turn.own.get("stance"):
            turn.patch[f"agents.{turn.agent.id}.stance"] = stance
            turn.fields["stance"] = stance

    def position(self, agent: AgentSpec, own: Mapping[str, Any]) -> Position | None:
        stance = own.get("stance")
        return Position(None if stance is None else float(stance), valenced=True)

    def checked(self, decision: Decision, observation: Observation) -> dict[str, Any]:
        if decision.stance is not None and not math.isfinite(decision.stance):
            raise ValueError("numbers must be finite")
        return {}
