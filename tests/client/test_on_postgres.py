"""The Python API on a PostgreSQL URL: a Sandbox runs, forks and compares there, and the CLI
sees the same timeline (as with a SQLite file)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import aegntix
from aegntix.cli import app
from tests.support import EXAMPLES

TOWN_HALL = EXAMPLES / "town-hall.yaml"


def test_a_sandbox_on_postgres_is_the_cli_s(pg_url: str) -> None:
    with aegntix.Sandbox(pg_url) as sandbox:
        assert sandbox.store.backend.engine.dialect.name == "postgresql"
        main = sandbox.run(TOWN_HALL, steps=3, seed=7, label="from-python")
        twin = main.fork(1).run(2)  # no intervention: the parent's history, hash for hash
        assert twin.record.head_hash == main.record.head_hash
        assert main.fork(1, inject="The river flooded the car park.").run(2).head_step == 3
    shown = CliRunner().invoke(app, ["branches", "--db", pg_url, "--json"])
    assert shown.exit_code == 0, shown.output
    labels = sorted(b["label"] for b in json.loads(shown.output))
    assert labels == ["fork@1", "from-python", "inject@1"]
    with aegntix.Sandbox(pg_url) as again:
        assert again.branch("from-python").head_step == 3


def test_a_url_password_is_never_shown(pg_url: str) -> None:
    user, _, rest = pg_url.removeprefix("postgresql://").partition("@")
    url = f"postgresql://{user}:hunter2@{rest}"  # trust auth: any password is accepted
    with aegntix.Sandbox(url) as sandbox:
        assert "hunter2" not in repr(sandbox) and "hunter2" not in sandbox.database
