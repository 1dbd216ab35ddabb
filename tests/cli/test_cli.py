"""The `aegntix` CLI end to end: real commands on a real database, a SQLite file and a
PostgreSQL schema (``db``, tests/cli/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aegntix.cli import app
from aegntix.timeline import open_store
from tests.cli.conftest import untouched
from tests.support import EXAMPLES

cli = CliRunner()


def aegntix(*args: str, ok: bool = True) -> str:
    result = cli.invoke(app, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, result.output
    return result.output


def json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def database_fingerprint(db: Path | str) -> list:
    store = open_store(db)
    try:
        branches = store.list_branches()
        return [
            (b.id, b.head_seq, b.status, [e.hash for e in store.events(b.id)]) for b in branches
        ]
    finally:
        store.close()


def test_run_fork_inject_compare(db: str):
    out = json_lines(aegntix("run", EXAMPLES / "town-hall.yaml", "--db", db, "--json"))
    root = out[0]["branch_id"]
    summary = out[-1]
    assert summary["type"] == "summary" and summary["status"] == "done"
    assert summary["completed_step"] == 12

    forked = json_lines(
        aegntix(
            "fork",
            root[:6],
            "--at",
            "4",
            "--inject",
            "A study shows the park is safe and saves homes.",
            "--db",
            db,
            "--json",
        )
    )[0]
    assert forked["parent_id"] == root and forked["fork_step"] == 4
    aegntix("continue", forked["id"], "--db", db, "--quiet")

    result = json_lines(aegntix("compare", root, forked["id"], "--db", db, "--json"))[0]
    assert result["divergence_step"] == 5
    assert result["outcome_deltas"]["mean_stance"] > 0
    assert len(result["divergence_series"]) >= 8

    text = aegntix("compare", root, forked["id"], "--db", db)
    assert "divergence over steps" in text and "diverge at step 5" in text
    tree = aegntix("branches", "--db", db)
    assert root in tree and forked["id"] in tree and "fork@4" in tree
    assert "ok" in aegntix("verify", "--db", db)


def test_events_and_state(db: str):
    out = json_lines(aegntix("run", EXAMPLES / "negotiation.yaml", "--db", db, "--json"))
    root = out[0]["branch_id"]
    events = json_lines(aegntix("events", root, "--from", "3", "--db", db, "--json"))
    assert events[0]["seq"] == 3 and [e["seq"] for e in events] == list(range(3, 3 + len(events)))
    state = json_lines(aegntix("state", root, "--step", "2", "--db", db, "--json"))[0]
    assert state["completed"] == 2 and "deal_reached" in state["world"]
    transcript = aegntix("events", root, "--db", db)
    assert "Sam Ortega (seller)" in transcript


def test_validate_and_schema(tmp_path: Path):
    assert "ok" in aegntix("validate", EXAMPLES / "incident-response.yaml")
    schema = json.loads(aegntix("schema"))
    assert schema["title"] == "AegntiX scenario"


@pytest.fixture(scope="module")
def recorded(module_db: str) -> tuple[str, str]:
    """A database with a 3-step run, and its branch id: one per backend, shared by the tests
    that check bad input changes nothing (each compares the database before and after)."""
    out = aegntix("run", EXAMPLES / "negotiation.yaml", "--db", module_db, "--json", "--steps", "3")
    return module_db, json_lines(out)[0]["branch_id"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fork", "nope", "--at", "1"], "no branch 'nope'"),
        (["fork", "{root}", "--at", "99"], "step 99"),
        (["fork", "{root}", "--at", "-1"], "step -1"),
        (["fork", "{root}", "--at", "2", "--inject", "hi", "--target", "ghost"], "ghost"),
        (["fork", "{root}", "--at", "2", "--inject", "hi", "--strategy", "telepathy"], "telepathy"),
        (["fork", "{root}", "--at", "2", "--inject", "hi", "--set", "nokey=1"], "nokey"),
        (["state", "{root}", "--step", "500"], "step 500"),
        (["events", "zzz"], "no branch"),
    ],
)
def test_bad_input_is_one_line_nonzero_and_changes_nothing(
    recorded: tuple[str, str], args, message
):
    db, root = recorded
    before = database_fingerprint(db)
    result = cli.invoke(app, [a.replace("{root}", root) for a in args] + ["--db", str(db)])
    assert result.exit_code not in (0, None)
    assert message in result.output
    assert result.output.count("error:") == 1
    assert database_fingerprint(db) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name: x\nagents: [\n", "invalid YAML"),
        (
            "name: x\ntermination: {max_steps: 2}\nagents: [{id: a, name: A, role: r}]\nmood: 1\n",
            "unknown field",
        ),
        (
            "name: x\ntermination: {max_steps: 2}\n"
            "agents: [{id: a, name: A, role: r, persona: {neuroticism: 2}}]\n",
            "less than or equal",
        ),
    ],
)
def test_bad_scenario_files_write_nothing(tmp_path: Path, db: str, content: str, message: str):
    bad = tmp_path / "bad.yaml"
    bad.write_text(content)
    for command in ("run", "validate"):
        result = cli.invoke(
            app, [command, str(bad)] + (["--db", str(db)] if command == "run" else [])
        )
        assert result.exit_code == 2, result.output
        assert message in result.output and "bad.yaml" in result.output
    assert untouched(db)


def test_read_commands_do_not_create_a_database(tmp_path: Path):
    # SQLite only: a missing file is refused; a PostgreSQL database always exists (the server
    # made it), so there is nothing to refuse there
    db = tmp_path / "cli.db"
    result = cli.invoke(app, ["branches", "--db", str(db)])
    assert result.exit_code != 0 and "no database" in result.output
    assert not db.exists()


def test_env_var_selects_database(db: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AEGNTIX_DB", db)
    aegntix("run", EXAMPLES / "negotiation.yaml", "--steps", "2", "--quiet")
    with open_store(db) as store:
        assert [b.head_step for b in store.list_branches()] == [2]
