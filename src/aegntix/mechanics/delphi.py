"""Delphi: a panel gives anonymous numeric estimates in rounds (one round per step); after
each round every panelist is shown the group's median and interquartile range (IQR) and may
revise. It stops when the IQR falls under ``iqr_threshold`` (the decision is that round's
median) or after ``max_rounds`` (no decision).

Anonymity: an estimate is kept in the panelist's private state (``_estimate``: the prompt
shows it to the panelist only) and never travels on a message; the round's ``world`` event
records every estimate for the record, which agents do not see. The feedback is the world
facts ``delphi_round``, ``delphi_median``, ``delphi_iqr``, ``delphi_n``.

``agreement`` is the share of the round's estimates within the threshold of the median; at
convergence the middle half of the panel lies there, so it is about 0.5 or more.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from pydantic import Field

from aegntix.mechanics.base import DecisionField, Loc, State, Turn
from aegntix.mechanics.consensus import (
    Options,
    Protocol,
    clean,
    option_problems,
    parsed,
    quartiles,
    unknown_ids,
)
from aegntix.model.events import EventKind, NewEvent

if TYPE_CHECKING:
    import random

    from aegntix.brains.base import Decision, Observation
    from aegntix.model.scenario import AgentSpec, Scenario

#: The private state key of a panelist's latest estimate.
OWN = "_estimate"


class DelphiOptions(Options):
    #: The IQR under which the panel has converged (in the estimate's units, or with
    #: ``relative`` a share of the median's magnitude).
    iqr_threshold: float = Field(gt=0.0)
    relative: bool = False
    max_rounds: int = Field(default=10, ge=1, le=10_000)
    #: Estimates a round needs to count toward convergence; unset: more than half the panel.
    quorum: int | None = Field(default=None, ge=1)
    #: Who estimates (default: every agent).
    panel: list[str] | None = Field(default=None, min_length=1)
    low: float | None = None
    high: float | None = None
    #: Estimates are rounded to a multiple of this (1 for a count of people).
    resolution: float | None = Field(default=None, gt=0.0)


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError("an estimate is a finite number")
    return float(value)


ESTIMATE = DecisionField(
    "estimate",
    {"anyOf": [{"type": "number"}, {"type": "null"}], "default": None},
    "your anonymous estimate this round, a number (null: keep your last one)",
    parse=_finite,
)


class Delphi(Protocol):
    name = "delphi"
    prefix = "delphi_"
    decision_fields = (ESTIMATE,)
    builtin_names = Protocol.builtin_names | {"median", "iqr"}
    agent_names = frozenset({OWN})
    agent_terms = frozenset({"estimate"})

    def options(self, scenario: Scenario) -> DelphiOptions:
        return parsed(scenario, self.name, DelphiOptions)

    def problems(self, scenario: Scenario) -> list[tuple[Loc, str]]:
        opts, found = option_problems(scenario, self.name, DelphiOptions)
        if opts is None:
            return found
        here: Loc = ("mechanics", self.name)
        panel = opts.panel if opts.panel is not None else [a.id for a in scenario.agents]
        found.extend(unknown_ids(scenario, self.name, "panel", opts.panel or []))
        if opts.quorum is not None and opts.quorum > len(panel):
            found.append(
                ((*here, "quorum"), f"quorum {opts.quorum} is more than the {len(panel)} panelists")
            )
        if opts.low is not None and opts.high is not None and opts.low >= opts.high:
            found.append(((*here, "high"), "high must be above low"))
        for i, agent in enumerate(scenario.agents):
            if agent.estimate is not None and not _within(agent.estimate, opts):
                found.append((("agents", i, "estimate"), "outside the panel's low..high"))
        return found

    def initial_agent(self, agent: AgentSpec) -> dict[str, Any]:
        return {OWN: None}

    def world_defaults(self, scenario: Scenario) -> dict[str, Any]:
        opts, _ = option_problems(scenario, self.name, DelphiOptions)
        bounds: dict[str, Any] = {}
        if opts is not None and opts.low is not None:
            bounds["delphi_low"] = opts.low
        if opts is not None and opts.high is not None:
            bounds["delphi_high"] = opts.high
        feedback = {"delphi_median": None, "delphi_iqr": None, "delphi_n": 0}
        return {**bounds, **feedback, **self.result_defaults()}

    def builtins(self, scenario: Scenario, state: State) -> dict[str, Any]:
        names = super().builtins(scenario, state)
        names["median"] = state["world"].get("delphi_median")
        names["iqr"] = state["world"].get("delphi_iqr")
        return names

    def on_decision(self, turn: Turn) -> None:
        turn.fields.pop("estimate", None)  # anonymous: never on the message
        value = turn.value("estimate")
        if value is None:
            return
        opts = self.options(turn.scenario)
        if opts.panel is not None and turn.agent.id not in opts.panel:
            turn.reject(f"'{turn.agent.id}' is not on the panel")
            return
        if isinstance(value, bool) or not isinstance(value, int | float):
            turn.reject("an estimate is a number")
            return
        estimate = float(value)
        if not math.isfinite(estimate) or not _within(estimate, opts):
            turn.reject("estimate outside the panel's range")
            return
        estimate = _rounded(estimate, opts.resolution)
        if estimate != turn.own.get(OWN):
            turn.patch[f"agents.{turn.agent.id}.{OWN}"] = estimate

    def on_step_end(
        self, scenario: Scenario, state: State, step: int, rng: random.Random
    ) -> list[NewEvent]:
        if self.concluded(state):
            return []
        opts = self.options(scenario)
        round_ = self.next_round(state)
        panel = opts.panel if opts.panel is not None else [a.id for a in scenario.agents]
        agents = state["agents"]
        estimates = {p: agents.get(p, {}).get(OWN) for p in panel}
        found = {p: float(x) for p, x in estimates.items() if x is not None}
        summary = summarise(list(found.values()), opts, len(panel))
        out_of_rounds = round_ >= opts.max_rounds
        patch: dict[str, Any] = {
            "world.delphi_round": round_,
            "world.delphi_median": summary["median"],
            "world.delphi_iqr": summary["iqr"],
            "world.delphi_n": len(found),
            "world.delphi_agreement": summary["agreement"],
        }
        if summary["converged"]:
            patch["world.delphi_decision"] = _rounded(summary["median"], opts.resolution)
            patch["world.delphi_decided_round"] = round_
        if summary["converged"] or out_of_rounds:
            patch["world.delphi_concluded"] = True
        payload = {"set": patch, "cause": "delphi", "round": round_, "estimates": found, **summary}
        return [NewEvent(step, EventKind.WORLD, payload)]

    def prompt_lines(self, agent: AgentSpec) -> list[str]:
        lines = [
            "This is a Delphi estimate of the topic: each round, answer estimate with your "
            "number. It is anonymous (no one else sees it; your own shows as your "
            "_estimate). After each round everyone is shown the group's median "
            "(delphi_median) and interquartile range (delphi_iqr) among the facts: revise "
            "toward them if persuaded, or hold your figure."
        ]
        if agent.estimate is not None:
            lines.append(f"Your own assessment before the panel met: {agent.estimate:g}.")
        return lines

    def checked(self, decision: Decision, observation: Observation) -> dict[str, Any]:
        value = decision.fields.get("estimate")
        low, high = observation.world.get("delphi_low"), observation.world.get("delphi_high")
        if isinstance(value, float) and (
            (low is not None and value < low) or (high is not None and value > high)
        ):
            raise ValueError(f"estimate must be within {low}..{high}")
        return {}


def summarise(values: list[float], opts: DelphiOptions, panel: int) -> dict[str, Any]:
    """One round: n, quorum, q1, median, q3, iqr, the threshold, whether it converged
    (quorum met and IQR under the threshold) and the agreement."""
    quorum = opts.quorum if opts.quorum is not None else panel // 2 + 1
    base: dict[str, Any] = {"n": len(values), "quorum": quorum}
    if not values:
        empty = dict.fromkeys(("q1", "median", "q3", "iqr", "threshold", "agreement"))
        return {**base, **empty, "converged": False}
    q1, median, q3 = (clean(q) for q in quartiles(values))
    iqr = clean(q3 - q1)
    threshold = clean(opts.iqr_threshold * abs(median) if opts.relative else opts.iqr_threshold)
    near = sum(abs(x - median) <= threshold for x in values)
    return {
        **base,
        "q1": q1,
        "median": median,
        "q3": q3,
        "iqr": iqr,
        "threshold": threshold,
        "converged": len(values) >= quorum and iqr < threshold,
        "agreement": clean(near / len(values)),
    }


def _within(value: float, opts: DelphiOptions) -> bool:
    return (opts.low is None or value >= opts.low) and (opts.high is None or value <= opts.high)


def _rounded(value: float, resolution: float | None) -> float:
    if resolution is None:
        return clean(value)
    return clean(round(value / resolution) * resolution)
