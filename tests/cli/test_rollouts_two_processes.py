"""Two processes continuing one rollout set at once never run the same member twice: each
member runs under a lease, so every member ends exactly as in an uninterrupted set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aegntix.analysis.rollouts import create_set
from aegntix.timeline import open_store, verify
from tests.cli.test_rollouts_cli import aegntix, heads, json_lines, root

N = 12


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_processes_continuing_one_set_run_each_member_once(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    whole = tmp_path / "whole.db"
    made = json_lines(
        aegntix("rollouts", "create", root(whole), "--at", 1, "--n", N, "--db", whole, "--json")
    )[-1]
    expected = heads(whole, made["id"])

    db: Path | str = tmp_path / "shared.db"
    if backend == "postgresql":
        db = str(request.getfixturevalue("pg_url"))
    parent = root(db)
    with open_store(db) as store:
        set_id = create_set(store, parent, 1, N).id
    command = [sys.executable, "-m", "aegntix", "rollouts", "continue", set_id, "--db", str(db)]
    command += ["--concurrency", "1", "--processes", "1", "--json"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs = [
        subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        # the first to end may leave members to the other, still running: never `partial`
        assert json.loads(out.splitlines()[-1])["status"] in {"done", "running"}
    # the last to end settled it
    assert (
        json_lines(aegntix("rollouts", "show", set_id, "--db", db, "--json"))[0]["status"] == "done"
    )

    # Each member's run is the one an uninterrupted set has: one runner per member.
    assert heads(db, set_id) == expected
    with open_store(db) as store:
        report = verify(store)
        assert report.ok, report.problems
