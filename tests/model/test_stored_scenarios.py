"""A scenario stored before a validation rule existed still loads, runs, forks and compares:
rules added since (control characters, data bounds, cross-field checks) apply to new input,
never to what the database already holds."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aegntix.cli import app
from aegntix.model.scenario import stored_scenario
from aegntix.model.text import text_problem
from tests.support import EXAMPLES

runner = CliRunner()

#: What an older version accepted and today's rules refuse: a bidi override in a name.
OLD_NAME = "Dana \u202eolleh"


def aegntix(*args: object) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout + result.stderr


@pytest.fixture
def old_db(tmp_path: Path) -> tuple[Path, str]:
    """A database whose scenario spec holds text today's validation refuses."""
    db = tmp_path / "old.db"
    code, out = aegntix("run", EXAMPLES / "negotiation.yaml", "--db", db, "--steps", "2", "--json")
    assert code == 0, out
    branch = json.loads(out.splitlines()[0])["branch_id"]
    with sqlite3.connect(db) as conn:
        (spec_text,) = conn.execute("SELECT spec FROM scenarios").fetchone()
        spec = json.loads(spec_text)
        spec["agents"][0]["name"] = OLD_NAME
        conn.execute("UPDATE scenarios SET spec = ?", (json.dumps(spec),))
    return db, branch


def test_the_old_text_is_refused_as_new_input() -> None:
    assert text_problem(OLD_NAME, multi_line=False) is not None


def test_a_stored_scenario_with_old_text_is_read_back() -> None:
    scenario_data = {
        "name": "Old",
        "agents": [{"id": "a", "name": OLD_NAME, "role": "r", "stance": 0.1}],
        "termination": {"max_steps": 3},
    }
    assert stored_scenario(scenario_data).agents[0].name == OLD_NAME


def test_an_old_scenario_continues_forks_and_compares(old_db: tuple[Path, str]) -> None:
    db, branch = old_db
    code, out = aegntix("continue", branch, "--db", db, "--steps", "2", "--quiet")
    assert code == 0, out
    code, out = aegntix("fork", branch, "--at", "1", "--db", db, "--run", "2", "--json")
    assert code == 0, out
    fork = json.loads(out.splitlines()[0])["branch_id"]
    code, out = aegntix("compare", branch, fork, "--db", db, "--json")
    assert code == 0, out
    code, out = aegntix("inject", fork, "Your lease ends Friday.", "--db", db)
    assert code == 0, out
