"""Rollout-set statistics: checked against scipy/numpy on constructed data, and for behaviour
(strong effects detected, null effects not, divergence found where it starts)."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from aegntix.analysis.stats import (
    agent_effects,
    bands,
    paired_effect,
    split_step,
    summarize,
    unpaired_effect,
)
from aegntix.errors import InvalidRequest

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


def _normal(seed: int, n: int, mu: float = 10.0, sd: float = 2.0) -> list[float]:
    return [float(v) for v in np.random.default_rng(seed).normal(mu, sd, n)]


# --- summarize ---------------------------------------------------------------------------


def test_summary_of_numbers_equals_numpy():
    values = _normal(1, 200)
    s = summarize(values, seed=3)
    assert s.kind == "number"
    assert s.n == 200
    assert s.mean == pytest.approx(np.mean(values))
    assert s.sd == pytest.approx(np.std(values, ddof=1))
    expected = np.percentile(values, [5, 25, 50, 75, 95])
    assert list(s.quantiles.values()) == pytest.approx(list(expected))
    assert list(s.quantiles) == ["p5", "p25", "p50", "p75", "p95"]
    counts, _ = np.histogram(values, bins=np.array(s.histogram_edges))
    assert s.histogram_counts == counts.tolist()
    assert sum(s.histogram_counts) == 200
    assert s.ci_method == "BCa"
    assert s.ci_low is not None and s.ci_high is not None
    assert s.ci_low < s.mean < s.ci_high
    assert s.json()["quantiles"]["p50"] == pytest.approx(float(np.median(values)))


def test_yes_no_summary_uses_the_wilson_interval():
    values = [True] * 37 + [False] * 63
    s = summarize(values, confidence=0.9)
    ci = stats.binomtest(37, 100).proportion_ci(0.9, method="wilson")
    assert s.kind == "yes/no"
    assert s.mean == pytest.approx(0.37)
    assert (s.ci_low, s.ci_high) == pytest.approx((ci.low, ci.high))
    assert s.ci_method == "wilson"
    assert s.histogram_counts == [63, 37]  # no, yes


def test_bootstrap_interval_covers_the_true_mean_in_most_trials():
    # 200 fixed-seed normal samples (n=30, mean 10): measured coverage 0.950 (nominal 0.95)
    covered = 0
    for trial in range(200):
        s = summarize(_normal(1000 + trial, 30), seed=trial)
        assert s.ci_low is not None and s.ci_high is not None
        covered += s.ci_low <= 10.0 <= s.ci_high
    rate = covered / 200
    print(f"bootstrap 95% CI coverage over 200 trials: {rate:.3f}")
    assert 0.88 <= rate <= 0.99


def test_same_seed_same_interval_other_seed_other_interval():
    values = _normal(5, 60)
    a, b = summarize(values, seed=11), summarize(values, seed=11)
    assert a == b
    c = summarize(values, seed=12)
    assert (c.ci_low, c.ci_high) != (a.ci_low, a.ci_high)
    e1 = paired_effect(values, _normal(6, 60), seed=4, permutations=999)
    e2 = paired_effect(values, _normal(6, 60), seed=4, permutations=999)
    assert e1 == e2


@pytest.mark.parametrize(
    ("values", "note"),
    [([], "no values"), ([4.5], "one value"), ([2.0, 2.0, 2.0], "all values equal")],
)
def test_degenerate_sets_do_not_crash(values, note):
    s = summarize(values)
    assert s.n == len(values)
    assert s.note is not None and s.note.startswith(note)
    if values:
        assert s.ci_low == s.ci_high == values[0]
        assert s.ci_method == "degenerate"
    else:
        assert s.mean is None and s.ci_low is None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([1.0, float("nan")], "values[1]: not a finite number (nan)"),
        ([float("inf")], "values[0]: not a finite number (inf)"),
        ([1.0, None], "values[1]: not a number (null)"),
        ([1.0, "2"], "values[1]: not a number (str)"),
        ("123", "values: expected a list"),
    ],
)
def test_non_finite_or_missing_values_are_refused(values, message):
    with pytest.raises(InvalidRequest, match=re.escape(message)):
        summarize(values)


def test_bad_confidence_seed_or_permutations_are_refused():
    with pytest.raises(InvalidRequest, match="confidence: must be between 0 and 1"):
        summarize([1.0, 2.0], confidence=1.5)
    with pytest.raises(InvalidRequest, match="seed: must be a non-negative integer"):
        summarize([1.0, 2.0], seed=-1)
    with pytest.raises(InvalidRequest, match="permutations: must be an integer from 1"):
        paired_effect([1.0, 2.0], [1.0, 2.0], permutations=0)


@settings(max_examples=40, deadline=None)
@given(st.lists(finite, max_size=25), st.integers(0, 2**32 - 1))
def test_summary_invariants(values, seed):
    s = summarize(values, seed=seed)
    assert s.n == len(values)
    assert sum(s.histogram_counts) == len(values)
    if values:
        assert s.ci_low is not None and s.ci_high is not None
        assert s.ci_low <= s.ci_high
        q = list(s.quantiles.values())
        assert q == sorted(q)
        assert min(values) <= q[0] and q[-1] <= max(values)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=60))
def test_wilson_interval_contains_the_rate(values):
    s = summarize(values)
    assert s.ci_low is not None and s.ci_high is not None and s.mean is not None
    assert s.ci_low <= s.mean + 1e-12 and s.mean <= s.ci_high + 1e-12


# --- effects -----------------------------------------------------------------------------


def test_strong_paired_effect_is_detectable():
    control = _normal(21, 80, mu=16_000, sd=400)
    noise = np.random.default_rng(22).normal(0, 50, 80)
    treated = [c + 300 + n for c, n in zip(control, noise, strict=True)]
    e = paired_effect(treated, control, name="price", seed=1)
    assert e.detectable
    assert e.ci_low is not None and e.ci_low > 0
    assert e.difference == pytest.approx(np.mean(np.subtract(treated, control)))
    diffs = np.subtract(treated, control)
    assert e.effect_size == pytest.approx(np.mean(diffs) / np.std(diffs, ddof=1))
    assert e.effect_size_kind == "d_z"
    assert e.p_value is not None and e.p_value < 0.001
    assert re.fullmatch(
        r"mean price 16,\d{3} \[16,\d{3}–16,\d{3}\] with the intervention"
        r" vs 1\d,\d{3} \[1\d,\d{3}–1\d,\d{3}\] without: \+\d{3} \[\d{3}–\d{3}\]",
        e.sentence,
    ), e.sentence


def test_yes_no_paired_effect_sentence_in_points():
    rng = np.random.default_rng(8)
    u = rng.random(100)  # common random numbers: the same draw decides both futures
    treated = [bool(v < 0.7) for v in u]
    control = [bool(v < 0.2) for v in u]
    e = paired_effect(treated, control, name="approved", seed=2)
    assert e.kind == "yes/no" and e.effect_size_kind == "h"
    p1, p2 = np.mean(treated), np.mean(control)
    assert e.effect_size == pytest.approx(2 * math.asin(p1**0.5) - 2 * math.asin(p2**0.5))
    assert e.detectable
    rate = f"{p1 * 100:.0f}%"
    assert e.sentence.startswith(f"approved in {rate} [")
    assert re.fullmatch(
        r"approved in \d+% \[\d+–\d+%\] of futures with the intervention vs \d+% \[\d+–\d+%\]"
        r" without: \+\d+ points \[\d+–\d+\]",
        e.sentence,
    ), e.sentence


def test_same_distribution_gives_no_detectable_effect_in_most_trials():
    # 200 fixed-seed pairs of independent samples (n=50) from one distribution: measured 0.935 of
    # them "no detectable effect" (nominal 0.95)
    quiet = 0
    for trial in range(200):
        e = unpaired_effect(
            _normal(5000 + trial, 50), _normal(9000 + trial, 50), seed=trial, permutations=199
        )
        quiet += not e.detectable
        assert e.detectable or e.sentence.endswith("no detectable effect")
    rate = quiet / 200
    print(f"no detectable effect in {rate:.3f} of 200 null trials")
    assert rate >= 0.9


def test_unpaired_effect_uses_pooled_cohens_d():
    a, b = _normal(31, 40, mu=12), _normal(32, 50, mu=10)
    e = unpaired_effect(a, b, name="x", seed=0, permutations=999)
    pooled = math.sqrt((39 * np.var(a, ddof=1) + 49 * np.var(b, ddof=1)) / (40 + 50 - 2))
    assert e.effect_size == pytest.approx((np.mean(a) - np.mean(b)) / pooled)
    assert e.effect_size_kind == "d" and not e.paired
    assert e.detectable and "in the first set" in e.sentence


def test_small_paired_sets_get_the_exact_sign_flip_p_value():
    treated = [3.0, 1.5, 2.2, 0.4, 1.9, -0.3, 2.8, 1.1]
    control = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    e = paired_effect(treated, control)
    diffs = np.subtract(treated, control)
    observed = abs(diffs.mean())
    flips = [np.mean(diffs * s) for s in itertools.product((1, -1), repeat=8)]
    expected = np.mean([abs(f) >= observed - 1e-12 for f in flips])
    assert e.p_exact
    assert e.p_value == pytest.approx(expected)


def test_random_sign_flip_p_value_agrees_with_scipy_permutation_test():
    treated, control = _normal(60, 40, mu=10.2), _normal(61, 40)
    e = paired_effect(treated, control, seed=5, permutations=9999)
    ref = stats.permutation_test(
        (np.array(treated), np.array(control)),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=9999,
        random_state=np.random.default_rng(5),
    )
    assert not e.p_exact
    assert 0.05 < ref.pvalue < 0.95  # a p-value where the comparison means something
    assert e.p_value == pytest.approx(ref.pvalue, abs=0.02)


def test_mixed_bools_and_numbers_are_numbers():
    assert summarize([True, 2.0, 0]).kind == "number"
    assert summarize([True, False]).kind == "yes/no"


def test_paired_sets_must_have_equal_length():
    with pytest.raises(InvalidRequest, match=r"control: .*same number of values \(3 vs 2\)"):
        paired_effect([1.0, 2.0, 3.0], [1.0, 2.0])


def test_bad_values_in_an_effect_name_the_set():
    with pytest.raises(InvalidRequest, match=re.escape("treated[2]: not a finite number")):
        paired_effect([1.0, 2.0, float("nan")], [1.0, 2.0, 3.0])


@pytest.mark.parametrize("n", [0, 1])
def test_effects_of_tiny_sets_do_not_crash(n):
    e = paired_effect([1.0] * n, [2.0] * n)
    assert not e.detectable and e.ci_low is None and e.p_value is None
    assert "too few futures" in e.sentence


def test_identical_sets_have_a_degenerate_zero_effect():
    values = _normal(40, 20)
    e = paired_effect(values, values, name="x")
    assert (e.difference, e.ci_low, e.ci_high) == (0.0, 0.0, 0.0)
    assert e.effect_size is None and not e.detectable
    assert e.p_value == pytest.approx(1.0)
    assert e.sentence.endswith("no detectable effect")


def test_agent_effects_per_agent():
    control = {"alice": _normal(50, 40, mu=0, sd=1), "bob": _normal(51, 40, mu=0, sd=1)}
    treated = {"alice": [v + 2 for v in control["alice"]], "bob": list(control["bob"])}
    effects = agent_effects(treated, control, seed=3, permutations=999)
    assert list(effects) == ["alice", "bob"]
    assert effects["alice"].detectable and effects["alice"].name == "alice"
    assert not effects["bob"].detectable
    with pytest.raises(InvalidRequest, match="agents: not in both sets: carol"):
        agent_effects({**treated, "carol": [1.0]}, control)
    with pytest.raises(InvalidRequest, match=re.escape("control[bob][0]")):
        agent_effects(treated, {**control, "bob": [None] * 40})


# --- bands and split step ----------------------------------------------------------------


def test_bands_equal_numpy_percentile_with_ended_rollouts_carried_forward():
    series = [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0], [0.0, 0.5, 9.0]]
    b = bands(series)
    padded = np.array([[1, 2, 3, 4], [5, 6, 6, 6], [0, 0.5, 9, 9]], dtype=float)
    expected = np.percentile(padded, [5, 25, 50, 75, 95], axis=0)
    assert b.steps == 4 and b.rollouts == 3
    for k, label in enumerate(["p5", "p25", "p50", "p75", "p95"]):
        assert b.values[label] == pytest.approx(expected[k].tolist())
    assert b.mean == pytest.approx(padded.mean(axis=0).tolist())
    assert b.carried == [0, 0, 1, 2]
    assert bands([]).steps == 0


def test_bands_refuse_empty_rollouts_and_bad_percentiles():
    with pytest.raises(InvalidRequest, match=re.escape("series[1]: a rollout with no values")):
        bands([[1.0], []])
    with pytest.raises(InvalidRequest, match="percentiles: 101"):
        bands([[1.0]], percentiles=(50, 101))


def _diverging(start: int, steps: int = 30, n: int = 200) -> tuple[list, list]:
    # common random numbers: each pair shares its trajectory until `start`, then the treated
    # future drifts up by 0.5 per step (the walk's spread grows by ~0.2 per step)
    walk = np.cumsum(np.random.default_rng(77).normal(0, 0.2, (n, steps)), axis=1)
    drift = np.clip(np.arange(steps) - start + 1, 0, None) * 0.5
    return (walk + drift).tolist(), walk.tolist()


def test_split_step_finds_where_a_constructed_divergence_starts():
    treated, control = _diverging(start=12)
    s = split_step(treated, control)
    before = [st_.statistic for st_ in s.steps[:12]]
    assert before == [0.0] * 12
    assert s.split_step == 12
    assert s.max_step is not None and s.max_step > 12  # the drift keeps growing
    assert s.max_statistic == max(st_.statistic for st_ in s.steps)
    ks = stats.ks_2samp(np.array(treated)[:, 20], np.array(control)[:, 20])
    assert s.steps[20].statistic == pytest.approx(ks.statistic)
    assert s.steps[20].p_value == pytest.approx(ks.pvalue)


def test_split_step_threshold_moves_the_split_later():
    treated, control = _diverging(start=12)
    loose, strict = split_step(treated, control), split_step(treated, control, threshold=0.3)
    assert loose.split_step is not None and strict.split_step is not None
    assert strict.split_step > loose.split_step
    assert strict.steps[strict.split_step].statistic > 0.3


def test_no_split_when_nothing_diverges():
    _, control = _diverging(start=12)
    s = split_step(control, control)
    assert s.split_step is None
    assert s.max_statistic == 0.0
    assert split_step([], []).split_step is None
    with pytest.raises(InvalidRequest, match="alpha"):
        split_step(control, control, alpha=0)
