"""Seeded resampling: bootstrap confidence intervals and permutation p-values (scipy.stats).

Every call takes its own ``numpy.random.Generator`` built from the caller's seed, so equal
inputs and seed give equal intervals and p-values. Resamples are processed in batches so a
1,000-member set does not allocate resamples × n floats at once.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from math import comb

import numpy as np
from scipy import stats

from aegntix.analysis._values import FloatArray

#: Bootstrap resamples per interval (scipy's default).
RESAMPLES = 9999
_BATCH = 500

Statistic = Callable[..., FloatArray]


def mean_stat(x: FloatArray, axis: int = -1) -> FloatArray:
    return np.mean(x, axis=axis)  # type: ignore[no-any-return]


def diff_of_means(x: FloatArray, y: FloatArray, axis: int = -1) -> FloatArray:
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)  # type: ignore[no-any-return]


def mean_of_diffs(x: FloatArray, y: FloatArray, axis: int = -1) -> FloatArray:
    return np.mean(x - y, axis=axis)  # type: ignore[no-any-return]


def bootstrap_ci(
    data: tuple[FloatArray, ...],
    statistic: Statistic,
    *,
    paired: bool,
    seed: int,
    confidence: float,
) -> tuple[float, float, str]:
    """(low, high, method) of a ``confidence`` bootstrap interval of ``statistic``: BCa, or the
    percentile interval where BCa is undefined (e.g. every resample gives the same value on
    one side — scipy returns NaN and warns)."""
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            # a degenerate BCa is detected below by its NaN bounds, then retried as percentile
            warnings.simplefilter("ignore", stats.DegenerateDataWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            res = stats.bootstrap(
                data,
                statistic,
                n_resamples=RESAMPLES,
                batch=_BATCH,
                vectorized=True,
                paired=paired,
                confidence_level=confidence,
                method=method,
                random_state=np.random.default_rng(seed),
            )
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if np.isfinite(low) and np.isfinite(high):
            return low, high, method
    # every resample equal: the statistic has no spread at all
    value = float(statistic(*data))
    return value, value, "degenerate"


def permutation_p(
    x: FloatArray,
    y: FloatArray,
    *,
    paired: bool,
    seed: int,
    permutations: int,
) -> tuple[float, bool]:
    """Two-sided permutation p-value for "x and y come from one distribution" and whether it
    was exact (every rearrangement enumerated because there are no more than
    ``permutations``). Paired: the two values of each pair are swapped at random (the sign of
    each difference flipped); independent: the pooled values are re-split."""
    res = stats.permutation_test(
        (x, y),
        mean_of_diffs if paired else diff_of_means,
        permutation_type="samples" if paired else "independent",
        vectorized=True,
        n_resamples=permutations,
        batch=_BATCH,
        alternative="two-sided",
        random_state=np.random.default_rng(seed),
    )
    total = 2 ** len(x) if paired else comb(len(x) + len(y), len(x))
    return float(res.pvalue), total <= permutations
