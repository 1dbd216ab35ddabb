"""`make test` on a fresh machine: scripts/ensure-postgres gets the PostgreSQL tests a server
(starts or installs it as root; otherwise says the one command to run and fails)."""

from __future__ import annotations

import os
import subprocess

from tests.support import ROOT, assert_make_test_runs_first

SCRIPT = ROOT / "scripts" / "ensure-postgres"


def run(port: int, *, prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*(prefix or []), str(SCRIPT)],
        check=False,
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "AEGNTIX_PG_PORT": str(port), "HOME": "/tmp"},
        timeout=60,
    )


def test_make_test_runs_it_before_the_tests() -> None:
    assert_make_test_runs_first("ensure-postgres")


def test_a_running_server_is_nothing_to_do(pg_database: object) -> None:
    done = run(5432)  # pg_database: the tests' server answers there
    assert done.returncode == 0 and done.stdout == done.stderr == ""


def test_none_and_not_root_says_the_one_command() -> None:
    prefix = []
    if os.geteuid() == 0:  # be someone else (who cannot sudo)
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    done = run(1, prefix=prefix)  # nothing listens on port 1
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "sudo scripts/ensure-postgres" in lines[0], done.stderr
