"""A run killed with ``kill -9`` leaves its branch row saying ``running``; once its lease
expires every view of the branch (CLI list, API list and tree) reads ``paused``, and the
branch can be continued."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.server.conftest import serving
from tests.support import kill_mid_run

#: A short lease so the killed run's branch is released quickly.
LEASE_ENV = {**os.environ, "AEGNTIX_LEASE_SECONDS": "1", "PYTHONUNBUFFERED": "1"}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aegntix", *args],
        capture_output=True,
        text=True,
        env=LEASE_ENV,
        timeout=120,
        check=False,
    )


def _listed_status(db: str, branch_id: str) -> str:
    done = _cli("branches", "--db", str(db), "--json")
    assert done.returncode == 0, done.stderr
    found = [b for b in json.loads(done.stdout) if b["id"] == branch_id]
    assert len(found) == 1
    return str(found[0]["status"])


def _kill_mid_run(tmp_path: Path) -> tuple[str, str]:
    db, reported = kill_mid_run(tmp_path, 100, {"AEGNTIX_LEASE_SECONDS": "1"})
    return db, str(reported[0]["branch_id"])


@pytest.mark.slow
def test_a_killed_run_reads_paused_everywhere_and_continues(tmp_path: Path):
    db, branch_id = _kill_mid_run(tmp_path)
    # The row still says running (nobody recorded the end); the lease lapses within 1 s.
    deadline = time.monotonic() + 30
    while (status := _listed_status(db, branch_id)) != "paused":
        assert status == "running", status
        assert time.monotonic() < deadline, "the dead run's branch still reads running"
        time.sleep(0.2)

    with serving(tmp_path, db=str(db)) as server, server.client(server.owner_key) as client:
        listed = client.get("/v1/branches").json()
        assert [b["status"] for b in listed if b["id"] == branch_id] == ["paused"]
        tree = client.get("/v1/branches/tree").json()
        assert [n["status"] for n in tree if n["id"] == branch_id] == ["paused"]
        assert client.get(f"/v1/branches/{branch_id}").json()["status"] == "paused"

    resumed = _cli("continue", branch_id, "--db", str(db), "--steps", "1", "--json", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout.splitlines()[-1])["status"] == "idle"  # ran its step
    assert _listed_status(db, branch_id) == "idle"
