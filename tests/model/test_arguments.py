"""Scenario ``arguments``: validated with clear errors, exported in the JSON Schema."""

from __future__ import annotations

import pytest

from aegntix.errors import ScenarioInvalid
from aegntix.model.loading import parse_scenario, scenario_json_schema
from tests.support import EXAMPLES

BASE = """\
name: tiny
termination: {max_steps: 3}
agents:
  - id: a
    name: Ann
    role: resident
    stance: 0.2
"""


def _error(text: str) -> ScenarioInvalid:
    with pytest.raises(ScenarioInvalid) as info:
        parse_scenario(text, source="s.yaml")
    return info.value


def test_scenario_and_agent_arguments_load_and_an_agents_own_win():
    scenario = parse_scenario(
        BASE
        + "    arguments: {pro: [mine is pro], con: [mine is con]}\n"
        + "  - {id: b, name: Bo, role: resident, stance: 0.1}\n"
        + "arguments:\n  pro: ['  the plan protects homes  ']\n  con: [the tax is too high]\n",
        source="s.yaml",
    )
    ann, bo = scenario.agents
    assert scenario.arguments is not None and scenario.arguments.pro == ["the plan protects homes"]
    assert scenario.arguments_for(ann) == ann.arguments
    assert scenario.arguments_for(bo) == scenario.arguments


@pytest.mark.parametrize(
    ("block", "field", "reason"),
    [
        (
            "arguments: {pro: [the plan protects homes]}",
            "arguments.con",
            "required field is missing",
        ),
        ("arguments: {pro: [], con: [too costly here]}", "arguments.pro", "at least 1"),
        ("arguments: {pro: [safety], con: [too costly here]}", "arguments.pro", "a few words"),
        (
            "arguments: {pro: [it is good, it is good], con: [too costly here]}",
            "arguments.pro",
            "listed twice",
        ),
        ("arguments: {pro: [it is good], con: [it is good]}", "arguments", "both pro and con"),
        ("arguments: {pro: [it is good], con: [too costly], maybe: [x y]}", "arguments.maybe", ""),
    ],
)
def test_bad_arguments_name_the_field_and_reason(block: str, field: str, reason: str):
    error = _error(BASE + block + "\n")
    assert error.field == field, str(error)
    assert reason in str(error)
    assert error.line is not None


def test_arguments_are_in_the_schema_and_every_example_declares_them():
    schema = scenario_json_schema()
    assert "arguments" in schema["properties"]
    assert {"pro", "con"} <= set(schema["$defs"]["Arguments"]["properties"])
    for name in ("town-hall", "jury", "incident-response"):
        text = (EXAMPLES / f"{name}.yaml").read_text()
        assert parse_scenario(text, source=name).arguments is not None
    van = parse_scenario((EXAMPLES / "negotiation.yaml").read_text(), source="van")
    seller, buyer = van.agent("seller"), van.agent("buyer")
    assert seller.arguments is not None and buyer.arguments is not None
    # one party's leverage is the other's pressure
    assert set(seller.arguments.pro) & set(buyer.arguments.con)
