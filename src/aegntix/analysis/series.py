"""Per-step statistics of a numeric outcome across the rollouts of a set.

``series[i][t]`` is rollout i's value after step t (t = 0, 1, ...). Rollouts end at different
steps; a rollout that has ended keeps its last value for every later step (carry forward: a
terminated future stays where it ended), so every step is computed over all rollouts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from aegntix.analysis._values import FloatArray, clean
from aegntix.errors import InvalidRequest


@dataclass(frozen=True, slots=True)
class Bands:
    """The spread across rollouts at each step: ``values["p50"][t]`` is the median after step
    t; ``mean[t]`` the mean; ``carried[t]`` how many rollouts had already ended (their last
    value carried forward)."""

    steps: int
    rollouts: int
    percentiles: list[float]
    values: dict[str, list[float]]
    mean: list[float]
    carried: list[int]

    def json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class StepSplit:
    """The two-sample Kolmogorov–Smirnov comparison of treated vs control at one step."""

    step: int
    statistic: float
    p_value: float


@dataclass(frozen=True, slots=True)
class Split:
    """Where the treated and control distributions separate. ``split_step``: the first step
    whose KS p-value < ``alpha`` (and whose statistic > ``threshold`` when one is given),
    ``None`` if no step qualifies; ``max_step``: the step of the largest KS statistic (the
    first such on ties). ``steps`` has every step's statistic and p-value; the p-values are
    per step, not corrected for testing many steps."""

    split_step: int | None
    max_step: int | None
    max_statistic: float | None
    alpha: float
    threshold: float | None
    steps: list[StepSplit]

    def json(self) -> dict[str, Any]:
        return asdict(self)


def _label(p: float) -> str:
    return f"p{p:g}"


def _matrix(series: Sequence[Sequence[float]], field: str) -> tuple[FloatArray, list[int]]:
    """rollouts × steps, each rollout carried forward to the longest; and each rollout's
    own length."""
    if isinstance(series, str | bytes) or not isinstance(series, Sequence):
        raise InvalidRequest(f"{field}: expected a list of per-step value lists")
    fast = _rectangular(series)
    if fast is not None:
        return fast, [fast.shape[1]] * fast.shape[0]
    rows = []
    for i, row in enumerate(series):
        arr, _ = clean(row, f"{field}[{i}]")
        if len(arr) == 0:
            raise InvalidRequest(f"{field}[{i}]: a rollout with no values")
        rows.append(arr)
    lengths = [len(r) for r in rows]
    width = max(lengths, default=0)
    out = np.empty((len(rows), width), dtype=np.float64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
        out[i, len(r) :] = r[-1]
    return out, lengths


def _rectangular(series: Sequence[Sequence[float]]) -> FloatArray | None:
    """The vectorised path when every rollout has the same number of finite values; None
    sends anything else through the per-rollout checks that name the bad position."""
    try:
        arr = np.asarray(series)
    except ValueError:  # ragged
        return None
    if arr.ndim != 2 or arr.shape[1] == 0 or arr.dtype.kind not in "biuf":
        return None
    out = arr.astype(np.float64)
    return out if np.isfinite(out).all() else None


def bands(
    series: Sequence[Sequence[float]],
    percentiles: Sequence[float] = (5, 25, 50, 75, 95),
) -> Bands:
    """Per step, the given percentiles (numpy.percentile, linear interpolation) and the mean
    of the outcome across rollouts; ended rollouts carry their last value forward."""
    pcts = [float(p) for p in percentiles]
    for p in pcts:
        if not 0 <= p <= 100:
            raise InvalidRequest(f"percentiles: {p:g} is not between 0 and 100")
    matrix, lengths = _matrix(series, "series")
    steps = matrix.shape[1]
    if steps == 0:
        return Bands(0, 0, pcts, {_label(p): [] for p in pcts}, [], [])
    qs = np.percentile(matrix, pcts, axis=0)
    ended = np.asarray(lengths)
    carried = [int(np.sum(ended <= t)) for t in range(steps)]
    return Bands(
        steps,
        matrix.shape[0],
        pcts,
        {_label(p): [float(v) for v in qs[k]] for k, p in enumerate(pcts)},
        [float(v) for v in matrix.mean(axis=0)],
        carried,
    )


def split_step(
    treated_series: Sequence[Sequence[float]],
    control_series: Sequence[Sequence[float]],
    *,
    threshold: float | None = None,
    alpha: float = 0.05,
) -> Split:
    """Per step the two-sample KS test (scipy.stats.ks_2samp) of treated vs control values,
    then the split step and the step of largest separation (see :class:`Split`). The shorter
    set is carried forward to the longer's last step."""
    if not 0 < alpha < 1:
        raise InvalidRequest(f"alpha: must be between 0 and 1 (exclusive), got {alpha}")
    if threshold is not None and not 0 <= threshold <= 1:
        raise InvalidRequest(f"threshold: a KS statistic is between 0 and 1, got {threshold}")
    t, _ = _matrix(treated_series, "treated_series")
    c, _ = _matrix(control_series, "control_series")
    if t.shape[0] == 0 or c.shape[0] == 0:
        return Split(None, None, None, alpha, threshold, [])
    width = max(t.shape[1], c.shape[1])
    t, c = _widen(t, width), _widen(c, width)
    res = stats.ks_2samp(t, c, axis=0)
    stat = np.atleast_1d(res.statistic)
    pval = np.atleast_1d(res.pvalue)
    per_step = [StepSplit(k, float(stat[k]), float(pval[k])) for k in range(width)]
    hits = [
        s.step
        for s in per_step
        if s.p_value < alpha and (threshold is None or s.statistic > threshold)
    ]
    top = int(np.argmax(stat))
    return Split(hits[0] if hits else None, top, float(stat[top]), alpha, threshold, per_step)


def _widen(matrix: FloatArray, width: int) -> FloatArray:
    if matrix.shape[1] == width:
        return matrix
    extra = np.repeat(matrix[:, -1:], width - matrix.shape[1], axis=1)
    return np.concatenate([matrix, extra], axis=1)
