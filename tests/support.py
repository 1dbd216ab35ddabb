"""Test helpers shared across packages: where the example scenarios are."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from aegntix.model.loading import load_scenario
from aegntix.model.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def example(name: str) -> Scenario:
    return load_scenario(EXAMPLES / f"{name}.yaml")


def assert_make_test_runs_first(script: str) -> None:
    """``make test`` runs ``scripts/<script>`` (executable) before pytest."""
    plan = subprocess.run(
        ["make", "-n", "--no-print-directory", "test"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    setup = plan.index(f"scripts/{script}")
    assert any("pytest" in line for line in plan[setup + 1 :]), plan
    assert os.access(ROOT / "scripts" / script, os.X_OK)


def kill_mid_run(
    tmp_path: Path, events: int, env: dict[str, str] | None = None, db: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """``aegntix run`` a town hall with no step limit into ``db`` (default
    ``tmp_path/crash.db``) in a subprocess and ``kill -9`` it once it has reported ``events``
    events; the database and the event lines it reported."""
    spec = yaml.safe_load((EXAMPLES / "town-hall.yaml").read_text())
    spec["termination"] = {"max_steps": 100_000}
    scenario = tmp_path / "long.yaml"
    scenario.write_text(yaml.safe_dump(spec))
    db = db or str(tmp_path / "crash.db")
    proc = subprocess.Popen(
        [sys.executable, "-m", "aegntix", "run", str(scenario), "--db", db, "--json"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    reported: list[dict[str, Any]] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        item = json.loads(line)
        if item["type"] == "event":
            reported.append(item)
        if len(reported) >= events:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    return db, reported
