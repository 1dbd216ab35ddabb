"""Invariant 7 through the CLI: `kill -9` mid-run loses no event the CLI reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from aegntix.engine import Runner
from aegntix.timeline import open_store, verify
from tests.support import kill_mid_run


@pytest.mark.slow
def test_kill_9_mid_run_keeps_every_reported_event(tmp_path: Path, db: str):
    db, reported = kill_mid_run(tmp_path, 400, db=db)
    store = open_store(db)
    try:
        branch_id = reported[0]["branch_id"]
        stored = {e.seq: e.hash for e in store.events(branch_id)}
        for item in reported:
            assert stored.get(item["seq"]) == item["hash"], f"lost seq {item['seq']}"
        report = verify(store)
        assert report.ok, report.problems
        # and the run resumes from the last whole step
        runner = Runner(store, branch_id)
        completed = runner.completed_step
        assert completed >= max(e["step"] for e in reported) - 1
    finally:
        store.close()
