"""A transient error (a database that cannot answer now) exits 75, not the permanent
storage code 7, so a script knows to retry; still one readable line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from aegntix.cli import app
from aegntix.errors import TRANSIENT_EXIT_CODE
from tests.server.test_transient_errors import wal_locked
from tests.support import EXAMPLES

cli = CliRunner()


def test_a_locked_database_exits_with_the_transient_code(tmp_path: Path) -> None:
    # SQLite's write lock, held by another connection; PostgreSQL's twin is the next test
    db = tmp_path / "cli.db"
    ran = cli.invoke(app, ["run", str(EXAMPLES / "negotiation.yaml"), "--db", str(db), "-q"])
    assert ran.exit_code == 0, ran.output
    with wal_locked(db):
        listed = cli.invoke(app, ["branches", "--db", str(db)])
    assert listed.exit_code == TRANSIENT_EXIT_CODE == 75, listed.output
    lines = listed.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot answer now (try again)" in lines[0], lines
    assert "SELECT" not in lines[0]
    assert cli.invoke(app, ["branches", "--db", str(db)]).exit_code == 0


def test_a_postgres_server_that_does_not_answer_exits_with_the_transient_code() -> None:
    listed = cli.invoke(app, ["branches", "--db", "postgresql://nobody:pw@127.0.0.1:1/none"])
    assert listed.exit_code == TRANSIENT_EXIT_CODE, listed.output
    lines = listed.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot answer now (try again)" in lines[0], lines
    assert ":pw@" not in lines[0]  # the password is never shown
