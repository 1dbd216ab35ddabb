"""How a scenario selects its kinds: ``mechanics:`` is optional, validated against the
registry, and unset keeps every stored spec (and so its timelines) exactly as it was."""

from __future__ import annotations

from typing import Any

import pytest

from aegntix.brains.prompting import DECISION_SCHEMA, decision_schema
from aegntix.errors import ScenarioInvalid
from aegntix.mechanics import (
    DEFAULT,
    BaseMechanics,
    mechanics_of,
    register,
    registered,
    unregister,
)
from aegntix.model.loading import validate_scenario
from aegntix.model.scenario import stored_scenario
from aegntix.model.state import initial_state
from tests.support import example


def _debate(**extra: Any) -> dict[str, Any]:
    spec = example("town-hall").model_dump(mode="json")
    spec.update(extra)
    return spec


def test_without_the_key_every_builtin_kind_applies_and_nothing_new_is_stored():
    scenario = example("negotiation")
    assert scenario.mechanics is None
    assert "mechanics" not in scenario.model_dump(mode="json")
    assert mechanics_of(scenario).name == "+".join(DEFAULT)
    assert decision_schema(mechanics_of(scenario)) == DECISION_SCHEMA


def test_an_unknown_name_is_refused_naming_the_registered_ones():
    with pytest.raises(ScenarioInvalid) as caught:
        validate_scenario(_debate(mechanics="polling"))
    problem = caught.value.problems[0]
    assert problem.field == "mechanics"
    assert "unknown mechanics 'polling'" in problem.reason
    assert all(name in problem.reason for name in registered())


def test_a_declared_kind_narrows_the_names_expressions_may_read():
    spec = _debate(mechanics="incident")  # town hall outcomes read mean_stance
    with pytest.raises(ScenarioInvalid) as caught:
        validate_scenario(spec)
    reasons = " ".join(p.reason for p in caught.value.problems)
    assert "unknown name(s) mean_stance" in reasons


def test_a_declared_list_acts_together_and_survives_storage():
    scenario = validate_scenario(_debate(mechanics=["opinion", "discussion"]))
    kinds = mechanics_of(scenario)
    assert [p.name for p in kinds.parts] == ["opinion", "discussion"]
    props = decision_schema(kinds)["properties"]
    assert "stance" in props and "offer" not in props and "accept" not in props
    assert initial_state(scenario)["agents"][scenario.agents[0].id].keys() == {"stance"}
    again = stored_scenario(scenario.model_dump(mode="json"))
    assert again.mechanics == ["opinion", "discussion"]


def test_a_kind_cannot_take_an_engine_name_or_field():
    class Greedy(BaseMechanics):
        name = "greedy"
        builtin_names = frozenset({"step"})

    with pytest.raises(ValueError, match="engine's names"):
        register(Greedy())
    assert "greedy" not in registered()


def test_terms_of_a_kind_the_scenario_does_not_select_are_refused():
    spec = example("negotiation").model_dump(mode="json")
    spec["mechanics"] = "opinion"
    spec["outcomes"] = {"price": "price"}
    with pytest.raises(ScenarioInvalid) as caught:
        validate_scenario(spec)
    fields = {p.field: p.reason for p in caught.value.problems}
    assert fields["agents.0.negotiation"] == (
        "'negotiation' is read by the 'negotiation' mechanics, which this scenario does not "
        "select (mechanics: opinion)"
    )
    spec["mechanics"] = ["negotiation", "opinion"]
    assert validate_scenario(spec).mechanics == ["negotiation", "opinion"]


def test_kinds_that_define_the_same_name_cannot_act_together():
    class Poll(BaseMechanics):
        name = "test-poll"
        builtin_names = frozenset({"mean_stance"})

    register(Poll())
    try:
        with pytest.raises(ScenarioInvalid) as caught:
            validate_scenario(_debate(mechanics=["opinion", "test-poll"]))
        problem = caught.value.problems[0]
        assert problem.field == "mechanics"
        assert problem.reason == "mechanics 'opinion' and 'test-poll' both define 'mean_stance'"
    finally:
        unregister("test-poll")
