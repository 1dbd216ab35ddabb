"""The CLI says why a run failed, in one line, and never echoes internals (SQL, payloads,
secrets); seeds share one range; a finished branch refuses an injection at its head."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import Result
from typer.testing import CliRunner

from aegntix.cli import app
from aegntix.testing import FakeLLM
from aegntix.timeline import open_store
from tests.cli.conftest import Databases, untouched
from tests.failing import FAILING_STEP, as_yaml, closed_port, dividing_by_zero, llm_example
from tests.support import EXAMPLES

cli = CliRunner()
SEED_REASON = "--seed: must be an integer from 0 to 9223372036854775807, not"


def aegntix(*args: object) -> Result:
    return cli.invoke(app, [str(a) for a in args])


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def test_no_model_server_fails_in_one_line_and_the_branch_keeps_why(db: str, tmp_path: Path):
    port = closed_port()
    scenario = tmp_path / "llm.yaml"
    scenario.write_bytes(as_yaml(llm_example(f"http://127.0.0.1:{port}/v1")))
    result = aegntix("run", scenario, "--db", db, "--quiet")
    reason = f"no model server at http://127.0.0.1:{port} — see docs/brains.md"
    assert result.exit_code == 75  # transient (ProviderUnavailable): retry when the server is up
    line = one_line(result.stderr)
    assert line.startswith("error: branch ") and line.endswith(f"failed at step 1: {reason}")

    listed = json.loads(aegntix("branches", "--db", db, "--json").stdout)
    assert listed[0]["status"] == "failed"
    assert listed[0]["failure"] == {"type": "ProviderUnavailable", "detail": reason, "step": 1}
    tree = aegntix("branches", "--db", db)
    assert "failed at step 1: no model server at" in " ".join(tree.stdout.split())

    # `continue` says what stopped it last time, tries again, and says why it failed again.
    again = aegntix("continue", "main", "--db", db, "--quiet")
    assert again.exit_code == 75
    note, error = again.stderr.strip().splitlines()
    assert note.startswith("note: branch ") and reason in note
    assert error.startswith("error: branch ") and reason in error

    with FakeLLM(port=port):  # the server is up: it runs and the reason is gone
        done = aegntix("continue", "main", "--db", db, "--steps", "1", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout.splitlines()[-1])["completed_step"] == 1
    listed = json.loads(aegntix("branches", "--db", db, "--json").stdout)
    assert listed[0]["failure"] is None and listed[0]["status"] == "idle"


def test_an_expression_failing_at_run_time_is_one_line_and_writes_nothing_of_its_step(
    db: str, tmp_path: Path
):
    scenario = tmp_path / "zero.yaml"
    scenario.write_bytes(as_yaml(dividing_by_zero()))
    result = aegntix("run", scenario, "--db", db, "--json")
    assert result.exit_code == 2
    line = one_line(result.stderr)
    reason = "outcomes.per_countdown: '100 / countdown': division by zero"
    assert line.endswith(f"failed at step {FAILING_STEP}: {reason}")
    records = [json.loads(x) for x in result.stdout.splitlines()]
    assert records[-1] == {
        "type": "failure",
        "branch_id": records[0]["branch_id"],
        "failure": {
            "type": "ExpressionFailed",
            "detail": "outcomes.per_countdown: '100 / countdown': division by zero",
            "step": FAILING_STEP,
        },
    }
    store = open_store(db)
    try:
        branch = store.get_branch(records[0]["branch_id"])
        assert branch.head_step == FAILING_STEP - 1  # whole steps only
        assert branch.failure is not None and branch.failure.type == "ExpressionFailed"
    finally:
        store.close()


def test_seeds_out_of_range_are_refused_alike_before_anything_is_written(db: str):
    for seed in ("-1", str(2**63)):
        result = aegntix("run", EXAMPLES / "negotiation.yaml", "--db", db, "--seed", seed)
        assert result.exit_code == 2
        assert one_line(result.stderr) == f"error: {SEED_REASON} {seed}"
    assert untouched(db)  # nothing was even opened, so no orphan scenario row
    assert aegntix("run", EXAMPLES / "negotiation.yaml", "--db", db, "-q").exit_code == 0
    fork = aegntix("fork", "main", "--at", "1", "--seed", "-5", "--db", db)
    assert fork.exit_code == 2
    assert one_line(fork.stderr) == f"error: {SEED_REASON} -5"
    assert len(json.loads(aegntix("branches", "--db", db, "--json").stdout)) == 1


def test_injecting_into_a_finished_branch_is_refused_with_what_to_do(db: str):
    assert aegntix("run", EXAMPLES / "negotiation.yaml", "--db", db, "-q").exit_code == 0
    before = json.loads(aegntix("branches", "--db", db, "--json").stdout)[0]
    result = aegntix("inject", "main", "Too late", "--db", db)
    assert result.exit_code == 5
    line = one_line(result.stderr)
    assert "has finished" in line and "fork" in line and "--at STEP" in line
    after = json.loads(aegntix("branches", "--db", db, "--json").stdout)[0]
    assert after["head_seq"] == before["head_seq"]


def test_database_open_errors_are_one_line(tmp_path: Path):
    # SQLite only: what can be wrong with a file path (an unreachable PostgreSQL server
    # is test_transient_exit.py's)
    folder = tmp_path / "a-directory"
    folder.mkdir()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database, " * 100)
    plain = tmp_path / "plain-file"
    plain.write_text("x")
    cases = {
        folder: "unable to open database file",
        junk: "file is not a database",
        plain / "x.db": f"{plain} is not a directory",
    }
    for path, reason in cases.items():
        result = aegntix("run", EXAMPLES / "negotiation.yaml", "--db", path, "-q")
        assert result.exit_code == 7, result.output
        line = one_line(result.stderr)
        assert line.startswith(f"error: cannot open database {path}") and reason in line, line
        assert "sqlalche.me" not in line and "SELECT" not in line
    missing = tmp_path / "no-such-folder" / "x.db"
    result = aegntix("branches", "--db", missing)
    assert result.exit_code == 7
    assert (
        one_line(result.stderr)
        == f"error: no database at '{missing}' (run a scenario first, or pass --db)"
    )


def test_two_runners_racing_on_one_branch_the_loser_says_so_in_one_line(
    tmp_path: Path, databases: Databases
):
    data = yaml.safe_load((EXAMPLES / "town-hall.yaml").read_text())
    data["termination"] = {"max_steps": 300}  # long enough for the two runs to overlap
    scenario = tmp_path / "long.yaml"
    scenario.write_bytes(as_yaml(data))
    command = [sys.executable, "-m", "aegntix", "continue", "main", "-q", "--db"]
    for attempt in range(3):  # the two must overlap; under any load they nearly always do
        db = databases.new(f"race{attempt}.db")
        assert aegntix("run", scenario, "--db", db, "--steps", "1", "-q").exit_code == 0
        runners = [
            subprocess.Popen(
                [*command, db], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for _ in range(2)
        ]
        results = [(p.wait(120), *p.communicate()) for p in runners]
        codes = sorted(code for code, _, _ in results)
        if codes != [0, 0]:
            break
    else:
        pytest.fail("the two runners never overlapped in 3 attempts")
    assert codes == [0, 75], results  # BranchBusy is transient: retry later
    loser = next(err for code, _, err in results if code == 75)
    line = one_line(loser)
    assert line.startswith("error: branch ") or line.startswith("error: another writer"), line
    for leak in ("INSERT", "SELECT", "sqlalche.me", "payload", "stance", "Riverside"):
        assert leak not in line, line
    store = open_store(db)
    try:
        from aegntix.timeline import verify

        assert verify(store).ok
    finally:
        store.close()
