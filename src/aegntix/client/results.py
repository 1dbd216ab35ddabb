"""What a rollout set's statistics say, typed: an outcome's :class:`Summary` over one set and
the :class:`Effect` of an intervention (read from the dict ``set_stats`` returns, the same as
``GET /v1/rollouts/{id}/stats``)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Summary:
    """One outcome across one set's finished futures. ``mean`` is the rate for a yes/no
    outcome; ``ci_low``..``ci_high`` its interval (Wilson for yes/no, bootstrap for numbers).
    ``None`` where undefined (no futures; ``sd`` with fewer than two)."""

    outcome: str
    kind: str  # "yes/no" or "number"
    n: int
    mean: float | None
    sd: float | None
    ci_low: float | None
    ci_high: float | None
    confidence: float
    quantiles: dict[str, float]

    @classmethod
    def from_json(cls, outcome: str, data: dict[str, Any]) -> Summary:
        return cls(
            outcome=outcome,
            kind=data["kind"],
            n=data["n"],
            mean=data["mean"],
            sd=data["sd"],
            ci_low=data["ci_low"],
            ci_high=data["ci_high"],
            confidence=data["confidence"],
            quantiles=dict(data["quantiles"]),
        )


@dataclass(frozen=True, slots=True)
class Effect:
    """The effect of the intervention on one outcome: ``difference`` of means (risk
    difference for yes/no, in 0..1) with its interval, a standardized ``effect_size``
    (``effect_size_kind``: Cohen's ``d_z``, ``d`` or ``h``), a permutation ``p_value`` and
    ``detectable`` (the interval excludes 0). ``str(effect)`` is the sentence in words.
    Definitions: docs/rollout-statistics.md."""

    outcome: str
    kind: str
    paired: bool  # against the set's own control (same seeds), else another set
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    confidence: float
    effect_size: float | None
    effect_size_kind: str
    p_value: float | None
    detectable: bool
    sentence: str
    treated: Summary
    control: Summary
    notes: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Effect:
        name = data["name"]
        return cls(
            outcome=name,
            kind=data["kind"],
            paired=data["paired"],
            difference=data["difference"],
            ci_low=data["ci_low"],
            ci_high=data["ci_high"],
            confidence=data["confidence"],
            effect_size=data["effect_size"],
            effect_size_kind=data["effect_size_kind"],
            p_value=data["p_value"],
            detectable=data["detectable"],
            sentence=data["sentence"],
            treated=Summary.from_json(name, data["treated"]),
            control=Summary.from_json(name, data["control"]),
            notes=tuple(data.get("notes") or ()),
        )

    def __str__(self) -> str:
        return self.sentence

    def _repr_html_(self) -> str:
        """Jupyter's view: the sentence, then the numbers behind it."""
        level = f"{self.confidence:.0%}"
        rows = [
            ("comparison", "paired (same seeds)" if self.paired else "unpaired"),
            ("difference", _with_interval(self.difference, self.ci_low, self.ci_high, level)),
            (f"effect size ({self.effect_size_kind})", _number(self.effect_size)),
            ("p-value (permutation)", _number(self.p_value)),
            ("futures", f"{self.treated.n} with, {self.control.n} without"),
            ("detectable", "yes" if self.detectable else "no"),
        ]
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in rows
        )
        return (
            f"<div><p><b>{html.escape(self.outcome)}</b>: {html.escape(self.sentence)}</p>"
            f"<table>{cells}</table></div>"
        )


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _with_interval(value: float | None, low: float | None, high: float | None, level: str) -> str:
    if value is None:
        return "—"
    if low is None or high is None:
        return _number(value)
    return f"{_number(value)} [{_number(low)} to {_number(high)}] ({level} CI)"
