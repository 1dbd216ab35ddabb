"""Statistics of rollout sets: per-outcome summaries and the effect of an intervention.

A rollout set is N futures forked from one point, one seed each; with an injection it is paired
with a control set of the same seeds (pair i = same seed, common random numbers). Everything
here is pure and deterministic given ``seed``; the exact definitions are in
docs/rollout-statistics.md. Per-step bands and the split step live in
:mod:`aegntix.analysis.series` (re-exported here).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import stats

from aegntix.analysis._resample import (
    bootstrap_ci,
    diff_of_means,
    mean_of_diffs,
    mean_stat,
    permutation_p,
)
from aegntix.analysis._values import (
    FloatArray,
    Kind,
    check_confidence,
    check_seed,
    clean,
    fmt,
    minus,
    num,
    pct,
    signed,
)
from aegntix.analysis.series import Bands, Split, StepSplit, bands, split_step
from aegntix.errors import InvalidRequest

__all__ = [
    "Bands",
    "Effect",
    "Split",
    "StepSplit",
    "Summary",
    "agent_effects",
    "bands",
    "paired_effect",
    "split_step",
    "summarize",
    "unpaired_effect",
]

QUANTILES = (5, 25, 50, 75, 95)
_MAX_BINS = 50
MAX_PERMUTATIONS = 1_000_000


@dataclass(frozen=True, slots=True)
class Summary:
    """One outcome over one set. ``mean`` is the rate for yes/no outcomes; ``ci_low``/``ci_high``
    bound it (Wilson for yes/no, seeded bootstrap for numbers). ``None`` where undefined
    (n=0; ``sd`` when n<2); ``note`` says why an interval is degenerate or missing. Read-only:
    equal inputs share one cached instance."""

    kind: Kind
    n: int
    mean: float | None
    sd: float | None
    quantiles: dict[str, float]
    ci_low: float | None
    ci_high: float | None
    confidence: float
    ci_method: str | None
    histogram_edges: list[float]
    histogram_counts: list[int]
    note: str | None = None

    def json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Effect:
    """The effect of ``treated`` over ``control`` on one outcome: ``difference`` (of means;
    risk difference for yes/no) with its bootstrap interval, a standardized ``effect_size``
    (``effect_size_kind``: "d_z", "d" or "h"), a permutation ``p_value``, ``detectable`` (the
    interval excludes 0) and a plain-words ``sentence``."""

    name: str
    kind: Kind
    paired: bool
    treated: Summary
    control: Summary
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    confidence: float
    ci_method: str | None
    effect_size: float | None
    effect_size_kind: str
    p_value: float | None
    p_exact: bool
    permutations: int
    detectable: bool
    sentence: str
    notes: list[str] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        return asdict(self)


def summarize(
    values: Sequence[float] | Sequence[bool],
    *,
    seed: int = 0,
    confidence: float = 0.95,
    field: str = "values",
) -> Summary:
    """The full distribution of one outcome over one set (see module doc)."""
    check_confidence(confidence)
    check_seed(seed)
    arr, kind = clean(values, field)
    return _summary(arr, kind, seed, confidence)


def _summary(arr: FloatArray, kind: Kind, seed: int, confidence: float) -> Summary:
    # a set is usually summarized on its own and again inside its effect: compute it once
    return _cached_summary(arr.tobytes(), kind, seed, confidence)


@lru_cache(maxsize=64)
def _cached_summary(data: bytes, kind: Kind, seed: int, confidence: float) -> Summary:
    arr = np.frombuffer(data, dtype=np.float64)
    n = len(arr)
    if n == 0:
        return Summary(kind, 0, None, None, {}, None, None, confidence, None, [], [], "no values")
    mean = float(np.mean(arr))
    sd = float(np.std(arr, ddof=1)) if n > 1 else None
    qs = np.percentile(arr, QUANTILES)
    quantiles = {f"p{p}": float(q) for p, q in zip(QUANTILES, qs, strict=True)}
    if kind == "yes/no":
        edges = np.array([0.0, 0.5, 1.0])  # two bins: no, yes
    else:
        edges = np.histogram_bin_edges(arr, bins="auto")
        if len(edges) > _MAX_BINS + 1:
            edges = np.histogram_bin_edges(arr, bins=_MAX_BINS)
    counts, edges = np.histogram(arr, bins=edges)
    note = None
    if kind == "yes/no":
        ci = stats.binomtest(int(arr.sum()), n).proportion_ci(confidence, method="wilson")
        low, high, method = float(ci.low), float(ci.high), "wilson"
    elif n == 1 or np.ptp(arr) == 0:
        low, high, method = mean, mean, "degenerate"
        note = "one value" if n == 1 else "all values equal"
        note += ": the interval is the value itself"
    else:
        low, high, method = bootstrap_ci(
            (arr,), mean_stat, paired=False, seed=seed, confidence=confidence
        )
    return Summary(
        kind,
        n,
        mean,
        sd,
        quantiles,
        low,
        high,
        confidence,
        method,
        [float(e) for e in edges],
        [int(c) for c in counts],
        note,
    )


def paired_effect(
    treated: Sequence[float | bool],
    control: Sequence[float | bool],
    *,
    name: str = "outcome",
    seed: int = 0,
    confidence: float = 0.95,
    permutations: int = 9999,
) -> Effect:
    """The effect of an intervention on paired samples: ``treated[i]`` and ``control[i]`` come
    from the same seed. Interval: seeded bootstrap over pairs; effect size: Cohen's d_z (mean
    difference / sd of differences) or Cohen's h for yes/no; p: paired permutation test."""
    return _effect(treated, control, name, seed, confidence, permutations, paired=True)


def unpaired_effect(
    a: Sequence[float | bool],
    b: Sequence[float | bool],
    *,
    name: str = "outcome",
    seed: int = 0,
    confidence: float = 0.95,
    permutations: int = 9999,
) -> Effect:
    """The same for two independent sets (different seeds): difference of means with a
    bootstrap interval resampling each set separately, Cohen's d (pooled sd) or h, and an
    independent-samples permutation test."""
    return _effect(a, b, name, seed, confidence, permutations, paired=False)


def agent_effects(
    treated: Mapping[str, Sequence[float]],
    control: Mapping[str, Sequence[float]],
    *,
    seed: int = 0,
    confidence: float = 0.95,
    permutations: int = 9999,
) -> dict[str, Effect]:
    """Per-agent paired effects (e.g. the stance shift of each agent), keyed like the inputs;
    both mappings must name the same agents."""
    if set(treated) != set(control):
        only = sorted(set(treated) ^ set(control))
        raise InvalidRequest(f"agents: not in both sets: {', '.join(only)}")
    return {
        agent: _effect(
            treated[agent],
            control[agent],
            agent,
            seed,
            confidence,
            permutations,
            paired=True,
            fields=(f"treated[{agent}]", f"control[{agent}]"),
        )
        for agent in sorted(treated)
    }


def _effect(
    treated: Sequence[float | bool],
    control: Sequence[float | bool],
    name: str,
    seed: int,
    confidence: float,
    permutations: int,
    *,
    paired: bool,
    fields: tuple[str, str] | None = None,
) -> Effect:
    check_confidence(confidence)
    check_seed(seed)
    if (
        isinstance(permutations, bool)
        or not isinstance(permutations, int)
        or not 1 <= permutations <= MAX_PERMUTATIONS
    ):
        raise InvalidRequest(
            f"permutations: must be an integer from 1 to {MAX_PERMUTATIONS:,}, got {permutations}"
        )
    f_t, f_c = fields or (("treated", "control") if paired else ("a", "b"))
    t, kind_t = clean(treated, f_t)
    c, kind_c = clean(control, f_c)
    if paired and len(t) != len(c):
        raise InvalidRequest(
            f"{f_c}: paired sets need the same number of values ({len(t)} vs {len(c)})"
        )
    kind: Kind = "yes/no" if kind_t == kind_c == "yes/no" else "number"
    if kind == "number":  # a mixed pair is compared as numbers (yes = 1, no = 0)
        kind_t = kind_c = "number"
    s_t, s_c = _summary(t, kind_t, seed, confidence), _summary(c, kind_c, seed, confidence)
    size_kind = "h" if kind == "yes/no" else ("d_z" if paired else "d")
    notes: list[str] = []
    if min(len(t), len(c)) < 2:
        notes.append("fewer than 2 futures in a set: no interval, effect size or p-value")
        sentence = f"{name}: too few futures to estimate an effect"
        diff = float(np.mean(t) - np.mean(c)) if len(t) and len(c) else None
        return Effect(
            name=name,
            kind=kind,
            paired=paired,
            treated=s_t,
            control=s_c,
            difference=diff,
            ci_low=None,
            ci_high=None,
            confidence=confidence,
            ci_method=None,
            effect_size=None,
            effect_size_kind=size_kind,
            p_value=None,
            p_exact=False,
            permutations=permutations,
            detectable=False,
            sentence=sentence,
            notes=notes,
        )
    diff = float(np.mean(t) - np.mean(c))
    if np.ptp(t - c) == 0 if paired else np.ptp(t) == np.ptp(c) == 0:
        # every resample would give the same difference: the interval is that value
        low, high, method = diff, diff, "degenerate"
        notes.append("the difference has no spread: the interval is the difference itself")
    else:
        low, high, method = bootstrap_ci(
            (t, c),
            mean_of_diffs if paired else diff_of_means,
            paired=paired,
            seed=seed,
            confidence=confidence,
        )
    size = _effect_size(t, c, kind, paired, notes)
    p, exact = permutation_p(t, c, paired=paired, seed=seed, permutations=permutations)
    detectable = low > 0 or high < 0
    sentence = _sentence(name, kind, s_t, s_c, diff, low, high, detectable, paired)
    return Effect(
        name,
        kind,
        paired,
        s_t,
        s_c,
        diff,
        low,
        high,
        confidence,
        method,
        num(size),
        size_kind,
        p,
        exact,
        permutations,
        detectable,
        sentence,
        notes,
    )


def _effect_size(
    t: FloatArray, c: FloatArray, kind: Kind, paired: bool, notes: list[str]
) -> float | None:
    if kind == "yes/no":  # Cohen's h: difference of arcsine-transformed rates
        return 2 * math.asin(math.sqrt(np.mean(t))) - 2 * math.asin(math.sqrt(np.mean(c)))
    if paired:
        spread = float(np.std(t - c, ddof=1))
    else:
        n_t, n_c = len(t), len(c)
        pooled = ((n_t - 1) * np.var(t, ddof=1) + (n_c - 1) * np.var(c, ddof=1)) / (n_t + n_c - 2)
        spread = float(math.sqrt(pooled))
    if spread == 0:
        notes.append("no spread: the standardized effect size is undefined")
        return None
    return float(np.mean(t) - np.mean(c)) / spread


def _interval(low: float, high: float, text: Callable[[float], str] = fmt) -> str:
    sep = "–" if low >= 0 else " to "  # "−20–−4" would read badly
    return f"[{minus(text(low))}{sep}{minus(text(high))}]"


def _sentence(
    name: str,
    kind: Kind,
    t: Summary,
    c: Summary,
    diff: float,
    low: float,
    high: float,
    detectable: bool,
    paired: bool,
) -> str:
    with_, without = (
        ("with the intervention", "without") if paired else ("in the first set", "in the second")
    )
    assert t.mean is not None and c.mean is not None  # n >= 2 here
    assert t.ci_low is not None and t.ci_high is not None
    assert c.ci_low is not None and c.ci_high is not None
    if kind == "yes/no":
        head = (
            f"{name} in {pct(t.mean)} [{t.ci_low * 100:.0f}–{t.ci_high * 100:.0f}%] of futures"
            f" {with_} vs {pct(c.mean)} [{c.ci_low * 100:.0f}–{c.ci_high * 100:.0f}%] {without}"
        )
        points = diff * 100
        tail = (
            f"{signed(points, f'{points:.0f}')} points "
            f"{_interval(low * 100, high * 100, lambda v: f'{v:.0f}')}"
        )
    else:
        head = (
            f"mean {name} {fmt(t.mean)} {_interval(t.ci_low, t.ci_high)} {with_}"
            f" vs {fmt(c.mean)} {_interval(c.ci_low, c.ci_high)} {without}"
        )
        tail = f"{signed(diff, fmt(diff))} {_interval(low, high)}"
    if not detectable:
        tail += ", no detectable effect"
    return f"{head}: {tail}"
