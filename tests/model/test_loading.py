"""Scenario files: clear errors that name the file, line, field and reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aegntix.errors import ScenarioInvalid
from aegntix.model.events import Event, EventKind
from aegntix.model.loading import (
    MAX_FILE_BYTES,
    load_scenario,
    parse_scenario,
    scenario_json_schema,
)
from aegntix.model.outcomes import compute_outcomes, is_terminal
from aegntix.model.state import empty_state, fold, initial_patch, initial_state
from tests.support import EXAMPLES

MINIMAL = """\
name: tiny
termination: {max_steps: 3}
agents:
  - id: a
    name: Ann
    role: resident
    stance: 0.2
"""


def _error(text: str, **kw) -> ScenarioInvalid:
    with pytest.raises(ScenarioInvalid) as info:
        parse_scenario(text, source="s.yaml", **kw)
    return info.value


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_examples_validate(path: Path):
    scenario = load_scenario(path)
    assert scenario.agents and scenario.outcomes


def test_minimal_scenario_gets_defaults():
    s = parse_scenario(MINIMAL)
    assert s.turn_order == "round_robin" and s.brain.kind == "rules"
    assert s.agents[0].persona.openness == 0.5 and s.agents[0].goals == []


def test_trait_out_of_range_names_line_and_field():
    err = _error(MINIMAL.replace("stance: 0.2", "stance: 0.2\n    persona: {openness: 1.4}"))
    assert err.line == 8 and err.field == "agents.0.persona.openness"
    assert "less than or equal to 1" in str(err) and "1.4" in str(err)
    assert str(err).startswith("s.yaml:8: agents.0.persona.openness:")


def test_unknown_field_is_named():
    err = _error(MINIMAL + "colour: blue\n")
    assert err.field == "colour" and err.line == 8 and "unknown field" in str(err)


def test_malformed_yaml_gives_line():
    err = _error("name: x\nagents: [\n  - id: a\n")
    assert "invalid YAML" in str(err) and err.line is not None


def test_duplicate_keys_are_rejected():
    err = _error(MINIMAL + "name: again\n")
    assert "duplicate key" in str(err) and err.line == 8


def test_json_errors_have_lines_too(tmp_path: Path):
    data = {
        "name": "x",
        "termination": {"max_steps": 2},
        "agents": [{"id": "a", "name": "A", "role": "r", "stance": 3}],
    }
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data, indent=2))
    with pytest.raises(ScenarioInvalid) as info:
        load_scenario(path)
    assert info.value.field == "agents.0.stance" and info.value.line == 11
    path.write_text('{"name": "x",\n "agents": [}')
    with pytest.raises(ScenarioInvalid, match="invalid JSON"):
        load_scenario(path)


def test_size_limit_and_alias_bomb(tmp_path: Path):
    big = tmp_path / "big.yaml"
    big.write_text("name: x\n" + "#" * MAX_FILE_BYTES)
    with pytest.raises(ScenarioInvalid, match="limit"):
        load_scenario(big)
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 8):
        bomb += f"{chr(97 + i)}: &{chr(97 + i)} [{', '.join(['*' + chr(96 + i)] * 10)}]\n"
    with pytest.raises(ScenarioInvalid, match="expands"):
        parse_scenario(bomb)


def test_unsafe_yaml_tags_are_refused():
    err = _error("name: !!python/object/apply:os.system ['true']\n")
    assert "invalid YAML" in str(err)


@pytest.mark.parametrize(
    ("snippet", "reason"),
    [
        ("dynamics: {nope: '1'}", "not a world key"),
        ("outcomes: {x: 'import_os + 1'}", "unknown name"),
        ("outcomes: {x: '__import__(\"os\")'}", "may be called"),
        ("termination: {}", "max_steps"),
    ],
)
def test_semantic_errors(snippet: str, reason: str):
    text = MINIMAL.replace("termination: {max_steps: 3}\n", "")
    if not snippet.startswith("termination"):
        text += "termination: {max_steps: 3}\n"
    err = _error(text + snippet + "\n")
    assert reason in str(err)


def test_missing_file_and_missing_field(tmp_path: Path):
    with pytest.raises(ScenarioInvalid, match="no such file"):
        load_scenario(tmp_path / "nope.yaml")
    err = _error(MINIMAL.replace("    role: resident\n", ""))
    assert err.field == "agents.0.role" and "required" in str(err)


def test_duplicate_agent_ids():
    text = MINIMAL + "  - {id: a, name: Bob, role: x}\n"
    err = _error(
        text.replace("termination: {max_steps: 3}\n", "") + "termination: {max_steps: 3}\n"
    )
    assert "unique" in str(err)


def test_schema_is_published():
    schema = scenario_json_schema()
    assert schema["title"] == "AegntiX scenario"
    assert {"agents", "termination"} <= set(schema["required"])


def test_initial_patch_folds_into_initial_state():
    scenario = load_scenario(EXAMPLES / "negotiation.yaml")
    event = Event("b", 1, 0, EventKind.WORLD, None, {"set": initial_patch(scenario)}, "h", "p")
    assert fold(empty_state(), [event]) == initial_state(scenario)


def test_outcomes_and_termination():
    scenario = load_scenario(EXAMPLES / "negotiation.yaml")
    state = initial_state(scenario)
    out = compute_outcomes(scenario, state)
    assert out["deal_reached"] is False and out["price"] is None
    assert not is_terminal(scenario, state, out)
    state["world"]["deal_reached"] = True
    assert is_terminal(scenario, state, compute_outcomes(scenario, state))
