"""``aegntix tools FILE``: the servers started as a run would start them, what they list,
who may call what; a server down or a secret missing is one readable line and exit 9."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from aegntix.cli import app

from .helpers import stdio

cli = CliRunner()


def write(tmp_path: Path, servers: dict[str, object]) -> Path:
    path = tmp_path / "s.yaml"
    spec = {
        "name": "t",
        "termination": {"max_steps": 1},
        "agents": [
            {"id": "a", "name": "A", "role": "r"},
            {"id": "b", "name": "B", "role": "r", "tools": ["one.t1"]},
        ],
        "tools": {"servers": servers},
    }
    path.write_text(yaml.safe_dump(spec))
    return path


def test_lists_servers_tools_and_allow_lists(tmp_path: Path) -> None:
    path = write(tmp_path, {"one": stdio("lite.py", "--name", "one", "--tools", "3")})
    result = cli.invoke(app, ["tools", str(path), "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["ok"] and found["servers"][0]["status"] == "up"
    assert [t["name"] for t in found["servers"][0]["listed"]] == ["one.t0", "one.t1", "one.t2"]
    assert found["agents"] == {"a": ["one.t0", "one.t1", "one.t2"], "b": ["one.t1"]}


def test_a_server_down_fails_with_one_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {"one": stdio("lite.py", "--name", "one"), "gone": stdio("faulty.py", "--mode", "never")},
    )
    result = cli.invoke(app, ["tools", str(path)])
    assert result.exit_code == 9
    assert "refusing to start" in result.stdout  # its last error, in the table
    assert result.stderr.strip() == "error: 1 of 2 tool servers down: gone"


def test_a_missing_secret_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AEGNTIX_SECRETS", str(tmp_path / "none.env"))
    monkeypatch.delenv("ABSENT_TOKEN_Q", raising=False)
    path = write(tmp_path, {"one": stdio("lite.py", env={"T": "secret:ABSENT_TOKEN_Q"})})
    result = cli.invoke(app, ["tools", str(path)])
    assert result.exit_code == 9
    assert "secret ABSENT_TOKEN_Q is not set" in result.stderr
