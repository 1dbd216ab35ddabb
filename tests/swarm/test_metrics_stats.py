"""Stance statistics on hand-computable cases, and their invariants (hypothesis)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aegntix.errors import ScenarioInvalid
from aegntix.model.loading import validate_scenario
from aegntix.model.outcomes import compute_outcomes
from aegntix.model.state import initial_state
from aegntix.swarm.metrics import consensus_step
from aegntix.swarm.stance_stats import (
    ER_ALPHA,
    bimodality,
    clusters,
    esteban_ray,
    stance_names,
)

stances = st.lists(st.floats(min_value=-1, max_value=1, allow_nan=False), max_size=40)


def test_clusters_split_at_gaps_wider_than_the_threshold() -> None:
    found = clusters([0.9, -1.0, -0.95, 1.0, 0.0, 0.05])
    assert [(round(c.center, 6), c.size) for c in found] == [(-0.975, 2), (0.025, 2), (0.95, 2)]
    assert len(clusters([0.0, 0.1, 0.2, 0.3])) == 1  # a chain of gaps of 0.1 is one cluster
    assert clusters([]) == []


def test_esteban_ray_of_two_equal_extreme_groups_is_one_and_of_consensus_zero() -> None:
    assert esteban_ray([-1, -1, 1, 1]) == pytest.approx(1.0)
    assert esteban_ray([0.3] * 7) == 0.0
    assert esteban_ray([]) == 0.0


def test_esteban_ray_by_hand_for_unequal_groups() -> None:
    # groups: 3 at -1 (share .75), 1 at 1 (share .25), distance 2
    raw = 0.75 ** (1 + ER_ALPHA) * 0.25 * 2 + 0.25 ** (1 + ER_ALPHA) * 0.75 * 2
    k = 1 / (4 * 0.5 ** (2 + ER_ALPHA))
    assert esteban_ray([-1, -1, -1, 1]) == pytest.approx(k * raw)
    assert esteban_ray([-1, -1, -1, 1]) < esteban_ray([-1, -1, 1, 1])


def test_bimodality_coefficient_by_hand() -> None:
    # [-1, -1, -1, 1, 1, 1]: n=6, mean 0, m2=1, m3=0, m4=1 -> g2=-2,
    # G2 = ((7)(-2) + 6) * 5 / (4 * 3) = -10/3; BC = 1 / (-10/3 + 3 * 25 / 12) = 1 / (35/12)
    assert bimodality([-1, -1, -1, 1, 1, 1]) == pytest.approx(12 / 35)
    assert bimodality([0.2, 0.2, 0.2, 0.2]) == 0.0
    assert bimodality([1, 2, 3]) == 0.0


def test_consensus_step_is_the_first_step_from_which_the_spread_stays_low() -> None:
    assert consensus_step([(0, 1.0), (1, 0.05), (2, 0.5), (3, 0.05), (4, 0.0)]) == 3
    assert consensus_step([(0, 0.0), (1, 0.2)]) is None
    assert consensus_step([(0, 0.0), (1, 0.01)]) == 0
    assert consensus_step([]) is None


@given(stances)
def test_stance_metrics_are_bounded_and_order_free(xs: list[float]) -> None:
    names = stance_names(xs)
    assert 0.0 <= names["polarization"] <= 1.0 + 1e-9
    assert names["bimodality"] >= 0.0 or math.isclose(names["bimodality"], 0.0)
    assert 0 <= names["opinion_clusters"] <= len(xs)
    assert stance_names(sorted(xs, reverse=True)) == pytest.approx(names)


def test_metrics_are_outcome_names_of_an_opinion_scenario() -> None:
    scenario = validate_scenario(
        {
            "name": "split",
            "topic": "t",
            "agents": [
                {"id": f"a{i}", "name": f"A{i}", "role": "r", "stance": s}
                for i, s in enumerate([-1, -1, 1, 1])
            ],
            "termination": {"max_steps": 3, "when": "opinion_clusters == 1"},
            "outcomes": {"p": "polarization", "bc": "bimodality", "k": "opinion_clusters"},
        }
    )
    out = compute_outcomes(scenario, initial_state(scenario))
    assert out == {"p": 1.0, "bc": pytest.approx(bimodality([-1, -1, 1, 1]), abs=1e-6), "k": 2}


def _scenario_data(**extra: object) -> dict[str, object]:
    return {
        "name": "s",
        "topic": "t",
        "agents": [{"id": "a", "name": "A", "role": "r", "stance": 0.5}],
        "termination": {"max_steps": 2},
        **extra,
    }


def test_metric_names_are_refused_outside_outcomes_and_termination() -> None:
    with pytest.raises(ScenarioInvalid, match="polarization"):
        validate_scenario(_scenario_data(world={"x": 0}, dynamics={"x": "polarization"}))
    with pytest.raises(ScenarioInvalid, match="polarization"):  # no stances: no metrics
        data = _scenario_data(outcomes={"p": "polarization"}, mechanics="negotiation")
        data["agents"] = [{"id": "a", "name": "A", "role": "r"}]
        validate_scenario(data)


def test_a_world_key_named_like_a_metric_keeps_its_value() -> None:
    scenario = validate_scenario(
        _scenario_data(world={"polarization": 7}, outcomes={"p": "polarization + bimodality"})
    )
    assert compute_outcomes(scenario, initial_state(scenario)) == {"p": 7}
