"""``aegntix workers`` names the process running each slice (``host:pid``, the name in the
worker's logs), so an operator can tell which process to signal; a real worker process."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from aegntix.timeline.sqlstore import SqlStore
from aegntix.workers.census import Slice, census
from tests.workers.support import Cluster, new_town_hall, wait_for

pytestmark = pytest.mark.slow


def test_a_running_slice_names_its_worker_process(cluster: Cluster, db: SqlStore) -> None:
    (replica,), (worker,) = cluster.start(serves=1, workers=[4])
    api = replica.client()
    branch = new_town_hall(api, 5000)
    assert api.post(f"/v1/branches/{branch}/run").status_code == 202

    seen: list[Slice] = []

    def named() -> bool:
        seen[:] = [s for w in census(db, 3.0).workers for s in w.slices if s.process]
        return bool(seen)

    wait_for("a slice holding its lease", named)
    assert [(s.branch_id, s.process) for s in seen] == [
        (branch, f"{socket.gethostname()[:32]}:{worker.proc.pid}")
    ]
    done = subprocess.run(
        [sys.executable, "-m", "aegntix", "workers", "--db", cluster.db, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    slices = [s for w in json.loads(done.stdout)["workers"] for s in w["slices"]]
    assert all("process" in s for s in slices)
    assert api.post(f"/v1/branches/{branch}/cancel").status_code == 202
    api.close()
