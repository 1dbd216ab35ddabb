"""A rollout set's statistics end to end: a known strong intervention is detected with a CI
that excludes 0, against its paired control; two controls of different seeds are compared
unpaired; the CLI prints the effect in words; the API serves it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from aegntix.analysis.rollouts import InjectionSpec, create_set, repository
from aegntix.analysis.study import set_stats
from aegntix.cli import app
from aegntix.errors import InvalidRequest
from aegntix.model.scenario import BrainConfig
from aegntix.timeline import SqlStore
from tests.analysis.helpers import NEWS, run_all
from tests.engine.helpers import run_new
from tests.support import example


@pytest.fixture
def study(store: SqlStore) -> tuple[str, str]:
    parent = run_new(store, example("town-hall"), steps=3)
    treated = create_set(store, parent, 2, 8, NEWS)
    run_all(store, treated.id)
    assert treated.control_id is not None
    return treated.id, treated.control_id


def test_a_strong_intervention_is_detected_against_its_paired_control(
    store: SqlStore, study: tuple[str, str]
) -> None:
    treated, control = study
    stats = set_stats(store, treated)
    assert stats["vs"] == control and stats["comparison"] == "paired"
    mean = stats["outcomes"]["mean_stance"]
    assert mean["kind"] == "number" and mean["summary"]["n"] == 8
    effect = mean["effect"]
    assert effect["paired"] and effect["detectable"] and effect["ci_low"] > 0
    assert "no detectable effect" not in effect["sentence"]
    assert stats["outcomes"]["approved"]["kind"] == "yes/no"
    # every agent's stance moves up with the push, each with its own interval
    agents = stats["outcomes"]["stance"]["agents"]
    assert len(agents) == 9 and all(e["difference"] > 0 for e in agents.values())
    # the futures part where the injection enters: the step after the fork point
    assert stats["split"]["mean_stance"]["split_step"] == 3
    # fan chart data: both sets' percentile bands per step; before the fork they coincide
    fan = stats["bands"]["mean_stance"]
    mine, theirs = fan["set"], fan["vs"]
    assert mine["first_step"] == 1 and mine["rollouts"] == 8 and mine["steps"] >= 3
    assert mine["values"]["p50"][:2] == theirs["values"]["p50"][:2]
    assert mine["mean"][-1] > theirs["mean"][-1]
    # at temperature 0 every future voted alike: the reader is told why, and what to change
    assert stats["notes"] and "temperature" in stats["notes"][0]


def test_the_control_alone_has_no_effect_to_report(store: SqlStore, study: tuple[str, str]):
    _, control = study
    stats = set_stats(store, control)
    assert stats["vs"] is None and "effect" not in stats["outcomes"]["mean_stance"]
    assert stats["bands"]["mean_stance"]["vs"] is None and "split" not in stats


def test_another_set_from_the_same_point_is_compared_unpaired(
    store: SqlStore, study: tuple[str, str]
) -> None:
    treated, control = study
    parent = repository(store).get(treated).parent_id
    other = create_set(store, parent, 2, 8, seed_base=12345)
    run_all(store, other.id)
    stats = set_stats(store, other.id, vs=control)
    assert stats["comparison"] == "unpaired"
    assert stats["outcomes"]["mean_stance"]["effect"]["paired"] is False


def test_a_set_from_another_point_is_refused(store: SqlStore, study: tuple[str, str]) -> None:
    treated, _ = study
    parent = repository(store).get(treated).parent_id
    elsewhere = create_set(store, parent, 1, 2)
    with pytest.raises(InvalidRequest, match="vs"):
        set_stats(store, treated, vs=elsewhere.id)


def test_rollouts_show_prints_the_effect_in_words(tmp_path) -> None:
    from aegntix.timeline import open_sqlite_store

    db = tmp_path / "s.db"
    store = open_sqlite_store(db)
    try:
        parent = run_new(store, example("town-hall"), steps=3)
        treated = create_set(store, parent, 2, 6, NEWS)
        run_all(store, treated.id)
    finally:
        store.close()
    result = CliRunner().invoke(app, ["rollouts", "show", treated.id, "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "with the intervention vs" in result.output
    assert "futures part at step 3" in result.output


def test_at_temperature_futures_differ_by_chance_and_the_effect_still_shows(
    store: SqlStore,
) -> None:
    scenario = example("town-hall").model_copy(
        update={"brain": BrainConfig(kind="rules", temperature=1.0)}
    )
    parent = run_new(store, scenario, steps=3)
    flood = InjectionSpec("The river burst its banks and flooded the car park.")
    treated = create_set(store, parent, 2, 24, flood)
    run_all(store, treated.id)
    stats = set_stats(store, treated.id)
    mean = stats["outcomes"]["mean_stance"]
    # the control's futures now differ by chance alone ...
    assert mean["effect"]["control"]["sd"] > 0.01 and mean["summary"]["sd"] > 0.01
    # ... and the news still moves them, with an interval that excludes no change
    assert mean["effect"]["detectable"] and mean["effect"]["ci_low"] > 0
    assert stats["notes"] == []
