"""Invariant 7 through the CLI: `kill -9` mid-run loses no event the CLI reported."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aegntix.engine import Runner
from aegntix.timeline import open_store, verify
from tests.support import EXAMPLES


@pytest.mark.slow
def test_kill_9_mid_run_keeps_every_reported_event(tmp_path: Path, db: str):
    spec = yaml.safe_load((EXAMPLES / "town-hall.yaml").read_text())
    spec["termination"] = {"max_steps": 100_000}
    scenario = tmp_path / "long.yaml"
    scenario.write_text(yaml.safe_dump(spec))
    proc = subprocess.Popen(
        [sys.executable, "-m", "aegntix", "run", str(scenario), "--db", db, "--json"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    reported: list[dict] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        item = json.loads(line)
        if item["type"] == "event":
            reported.append(item)
        if len(reported) >= 400:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL

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
