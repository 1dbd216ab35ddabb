"""Bounded confidence: the opinion kind's stances (moved by bounded-confidence dynamics in
the rules brain, Deffuant / Hegselmann–Krause) as the emergent baseline of the consensus
protocols. Nothing is voted: each step is a round that records the stances, their mean and
spread; the group has converged when the spread (max − min) is at most ``tolerance``, and
the decision is then the mean stance.

``agreement`` is the share of agents whose stance lies within ``tolerance`` of the mean.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Any

from pydantic import Field

from aegntix.mechanics.base import Loc, State
from aegntix.mechanics.consensus import OUTCOME_NAMES, Options, Protocol, clean, option_problems
from aegntix.mechanics.consensus import parsed as parsed_options
from aegntix.mechanics.opinion import Opinion
from aegntix.model.events import EventKind, NewEvent

if TYPE_CHECKING:
    import random

    from aegntix.model.scenario import Scenario


class ConvergenceOptions(Options):
    tolerance: float = Field(default=0.1, gt=0.0, le=2.0)
    max_rounds: int | None = Field(default=None, ge=1, le=1_000_000)


class BoundedConfidence(Opinion, Protocol):
    name = "bounded_confidence"
    prefix = "convergence_"
    builtin_names = Opinion.builtin_names | OUTCOME_NAMES

    def options(self, scenario: Scenario) -> ConvergenceOptions:
        return parsed_options(scenario, self.name, ConvergenceOptions)

    def problems(self, scenario: Scenario) -> list[tuple[Loc, str]]:
        return option_problems(scenario, self.name, ConvergenceOptions)[1]

    def world_defaults(self, scenario: Scenario) -> dict[str, Any]:
        return {"convergence_spread": None, **self.result_defaults()}

    def builtins(self, scenario: Scenario, state: State) -> dict[str, Any]:
        return {
            **Opinion.builtins(self, scenario, state),
            **Protocol.builtins(self, scenario, state),
        }

    def on_step_end(
        self, scenario: Scenario, state: State, step: int, rng: random.Random
    ) -> list[NewEvent]:
        if self.concluded(state):
            return []
        opts = self.options(scenario)
        round_ = self.next_round(state)
        stances = {
            a.id: float(s)
            for a in scenario.agents
            if (s := state["agents"].get(a.id, {}).get("stance")) is not None
        }
        if not stances:
            return []
        mean = clean(statistics.fmean(stances.values()))
        spread = clean(max(stances.values()) - min(stances.values()))
        converged = spread <= opts.tolerance
        near = sum(abs(s - mean) <= opts.tolerance for s in stances.values())
        agreement = clean(near / len(stances))
        patch: dict[str, Any] = {
            "world.convergence_round": round_,
            "world.convergence_spread": spread,
            "world.convergence_agreement": agreement,
        }
        if converged:
            patch["world.convergence_decision"] = round(mean, 6)
            patch["world.convergence_decided_round"] = round_
        if converged or (opts.max_rounds is not None and round_ >= opts.max_rounds):
            patch["world.convergence_concluded"] = True
        payload = {
            "set": patch,
            "cause": "bounded_confidence",
            "round": round_,
            "stances": stances,
            "mean": mean,
            "spread": spread,
            "tolerance": opts.tolerance,
            "converged": converged,
            "agreement": agreement,
        }
        return [NewEvent(step, EventKind.WORLD, payload)]
