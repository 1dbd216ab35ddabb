"""Test helpers shared across packages: where the example scenarios are."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

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
