"""The Python API and the CLI hold a branch's lease while they run it: a branch another
process runs is refused with ``BranchBusy`` (one line and exit != 0 in the CLI)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import aegntix
from aegntix.cli import app
from aegntix.errors import BranchBusy
from aegntix.timeline import open_store
from aegntix.timeline.leases import RunLeases
from tests.support import EXAMPLES


def test_a_branch_running_elsewhere_is_refused_then_runs_once_released(location: str) -> None:
    db = location
    with aegntix.Sandbox(db) as sandbox:
        main = sandbox.run(EXAMPLES / "town-hall.yaml", steps=1)
        other = open_store(db)
        try:
            elsewhere = RunLeases(other, owner="another-process", ttl=60)
            elsewhere.take(main.id)
            with pytest.raises(BranchBusy, match="already running"):
                main.run(1)
            done = CliRunner().invoke(app, ["continue", main.id, "--db", db, "-n", "1", "-q"])
            assert done.exit_code != 0
            assert "already running" in done.output and len(done.output.strip().splitlines()) == 1
            assert main.head_step == 1  # nothing was written
            elsewhere.release(main.id)
            assert main.run(1).head_step == 2
            assert RunLeases(other).holder(main.id) is None  # released after the run
        finally:
            other.close()
