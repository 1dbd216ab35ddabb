"""The shipped example (``examples/market_tools.yaml`` with ``examples/tools/market_server.py``)
through the CLI: run it, see its tool calls in the transcript, verify the database. (Its
replay by a fork is ``test_replay.py``'s, without a second server start.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aegntix.cli import app

from .helpers import REPO

cli = CliRunner()


def invoke(*args: object) -> str:
    result = cli.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.stdout


def records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_market_example_runs_and_verifies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # the example names its server relative to the repository
    db = tmp_path / "market.db"
    run = records(invoke("run", "examples/market_tools.yaml", "--db", db, "--json"))[-1]
    root = run["branch_id"]
    transcript = invoke("events", root, "--db", db)
    assert "🔧 market.get_price →" in transcript
    assert run["status"] == "done" and run["outcomes"]["quotes"] > 0
    events = records(invoke("events", root, "--db", db, "--all", "--json"))
    results = [e for e in events if e.get("kind") == "tool_result"]
    assert len(results) == run["outcomes"]["quotes"]
    assert all(isinstance(e["payload"]["result"]["result"], float) for e in results)
    assert "every chain verifies" in invoke("verify", "--db", db)
