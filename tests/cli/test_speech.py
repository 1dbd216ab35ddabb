"""Speech in whole runs, through the CLI: the documented debate template validates and runs
with grammatical speech, and a town hall's agents vary what they say."""

from __future__ import annotations

import itertools
import json
import re
from collections import defaultdict
from pathlib import Path

from typer.testing import CliRunner

from aegntix.cli import app
from aegntix.model.loading import load_scenario
from tests.brains.grammar import problems
from tests.cli.conftest import Databases
from tests.support import EXAMPLES, ROOT

cli = CliRunner()
_FENCE = re.compile(r"### Minimal debate template.*?```yaml\n(.*?)```", re.DOTALL)
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”")
_WORD = re.compile(r"[a-z']+")


def _run(scenario: Path, db: str) -> dict[str, list[str]]:
    """Each agent's utterances, in order, from `aegntix run --json`."""
    result = cli.invoke(app, ["run", str(scenario), "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    said: dict[str, list[str]] = defaultdict(list)
    for line in result.output.splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            if event.get("kind") == "message" and event["payload"].get("text"):
                said[event["agent_id"]].append(event["payload"]["text"])
    return said


def _template(tmp_path: Path) -> Path:
    found = _FENCE.search((ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8"))
    assert found, "docs/scenarios.md has no 'Minimal debate template' YAML block"
    path = tmp_path / "debate.yaml"
    path.write_text(found.group(1), encoding="utf-8")
    return path


def test_the_documented_debate_template_validates_and_runs(tmp_path: Path, db: str) -> None:
    path = _template(tmp_path)
    result = cli.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0 and "ok" in result.output, result.output
    said = _run(path, db)
    lines = [line for lines in said.values() for line in lines]
    assert len(said) == 3 and len(lines) >= 10
    for line in lines:
        assert problems(line) == [], line
    # the clause topic is said as a clause, the third-person goal in the first person
    assert any("the council should adopt a four-day week" in line for line in lines)
    assert not any("whether the council" in line and "oppose" in line for line in lines)
    assert not any("Tom wants" in line for line in said["tom"])


def _shape(line: str, own_words: set[str]) -> str:
    """A sentence's shape: its words, minus quotes and the scenario's own words (topic,
    goals, roles, names), so two lines differing only in what they cite count once."""
    plain = _QUOTED.sub(" ", line.lower())
    return " ".join(w for w in _WORD.findall(plain) if w not in own_words)


def test_a_town_hall_run_has_varied_speech(db: str) -> None:
    scenario = load_scenario(EXAMPLES / "town-hall.yaml")
    own = " ".join(
        [scenario.topic, *(f"{a.name} {a.role} {' '.join(a.goals)}" for a in scenario.agents)]
    )
    own_words = set(_WORD.findall(own.lower()))
    said = _run(EXAMPLES / "town-hall.yaml", db)
    openings_in_run: set[str] = set()
    for agent, lines in said.items():
        for line in lines:
            assert problems(line) == [], line
        for earlier, later in itertools.pairwise(lines):
            assert earlier != later, (agent, later)
        shapes = [_shape(line, own_words) for line in lines]
        openings = {" ".join(shape.split()[:3]) for shape in shapes}
        openings_in_run |= openings
        if len(lines) >= 6:
            # (before this floor existed, agents opened half their lines or more alike)
            assert len(set(shapes)) >= 0.75 * len(lines), (agent, shapes)
            assert len(openings) >= 0.55 * len(lines), (agent, sorted(openings))
    assert len(openings_in_run) >= 20, sorted(openings_in_run)


def test_a_run_says_the_same_words_with_the_same_seed(databases: Databases) -> None:
    first = _run(EXAMPLES / "town-hall.yaml", databases.new("a.db"))
    second = _run(EXAMPLES / "town-hall.yaml", databases.new("b.db"))
    assert first == second and sum(len(v) for v in first.values()) > 20
