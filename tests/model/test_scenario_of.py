"""A stored scenario is parsed once per spec: every reader of a branch's scenario shares it."""

from __future__ import annotations

from aegntix.model.stored import SPEC_VERSION, scenario_from, scenario_of, upgraded
from aegntix.timeline import SqlStore
from tests.support import example


def test_the_scenario_of_a_branch_is_its_stored_spec(store: SqlStore):
    scenario = example("negotiation")
    record = store.create_scenario(scenario.name, scenario.model_dump(mode="json"))
    branch = store.create_branch(record.id, seed=1)
    assert scenario_of(store, branch.id) == scenario
    assert scenario_of(store, branch) is scenario_of(store, branch.id)


def test_one_spec_is_parsed_once_and_another_spec_apart(store: SqlStore):
    negotiation, other = example("negotiation"), example("negotiation")
    other = other.model_copy(update={"name": "another"})
    first = store.create_scenario("a", negotiation.model_dump(mode="json"))
    same_spec = store.create_scenario("b", negotiation.model_dump(mode="json"))
    changed = store.create_scenario("c", other.model_dump(mode="json"))
    assert scenario_from(first) is scenario_from(same_spec)
    assert scenario_from(changed).name == "another"
    assert scenario_from(changed) is not scenario_from(first)


def test_a_spec_of_the_current_version_is_read_as_stored():
    spec = {"name": "x"}
    assert upgraded(spec, SPEC_VERSION) is spec
