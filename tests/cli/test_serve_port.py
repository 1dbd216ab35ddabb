"""A taken port: `aegntix serve` and `make run` say so in one line, write nothing, exit != 0."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import untouched
from tests.support import ROOT


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something else is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_serve_fails_fast_on_a_taken_port(tmp_path: Path, db: str, taken_port: int) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aegntix", "serve", "--port", str(taken_port), "--db", db],
        cwd=tmp_path,  # where a PostgreSQL database's key file would go
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert done.stdout == ""  # no key, no "AegntiX UI:" line
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    match = re.fullmatch(
        rf"error: port {taken_port} is in use — aegntix serve --port (\d+)", lines[0]
    )
    assert match, lines[0]
    suggested = int(match.group(1))
    assert suggested > taken_port
    with socket.socket() as probe:  # the port it suggests is free
        probe.bind(("127.0.0.1", suggested))
    assert untouched(db) and not list(tmp_path.glob("*.key"))


def test_make_run_on_a_taken_port_is_one_line_without_the_banner(
    tmp_path: Path, taken_port: int
) -> None:
    if shutil.which("make") is None:
        pytest.fail("make is not installed: `make run` cannot be tested", pytrace=False)
    db = tmp_path / "ui.db"  # SQLite only: `make run` serves a file (UI_DB), its key beside it
    done = subprocess.run(
        ["make", "--no-print-directory", "run", f"PORT={taken_port}", f"UI_DB={db}"],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MAKEFLAGS": ""},
    )
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "AegntiX is running" not in output and "#key=" not in output
    ours = [ln for ln in output.strip().splitlines() if not ln.startswith("make")]
    assert len(ours) == 1, output
    assert re.fullmatch(rf"port {taken_port} is in use — make run PORT=\d+", ours[0]), ours[0]
    assert not db.exists()
