"""Test helpers shared across packages: where the example scenarios are."""

from __future__ import annotations

from pathlib import Path

from aegntix.model.loading import load_scenario
from aegntix.model.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def example(name: str) -> Scenario:
    return load_scenario(EXAMPLES / f"{name}.yaml")
