"""Pause, resume, step and cancel through an API process while a worker process runs the
branch; and a run started with no worker alive says so (``queued`` and a hint) until one
starts."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from aegntix.timeline.sqlstore import SqlStore
from aegntix.workers.census import census
from aegntix.workers.intents import RunIntents
from tests.workers.support import (
    Cluster,
    cluster_of,
    dense,
    free_port,
    hashes,
    new_town_hall,
    wait_for,
)

pytestmark = pytest.mark.slow


def _branch(api: httpx.Client, max_steps: int) -> str:
    return new_town_hall(api, max_steps)


def _status(api: httpx.Client, branch_id: str) -> dict[str, Any]:
    body: dict[str, Any] = api.get(f"/v1/branches/{branch_id}/status").json()
    return body


def _settled(api: httpx.Client, branch_id: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    def stopped() -> bool:
        found[:] = [_status(api, branch_id)]
        return not found[0]["running"]

    wait_for(f"branch {branch_id} to stop", stopped)
    return found[0]


def test_a_run_with_no_worker_says_queued_until_one_starts(cluster: Cluster) -> None:
    api = cluster.serve().client()
    branch = _branch(api, 12)
    started = api.post(f"/v1/branches/{branch}/run")
    assert started.status_code == 202
    assert started.json()["status"] == "queued"
    assert "aegntix worker --db" in started.json()["hint"]
    state = _status(api, branch)
    assert state["status"] == "queued" and state["running"] is True
    # a second start is refused: the queued run is the branch's run
    assert api.post(f"/v1/branches/{branch}/run").status_code == 409

    other = _branch(api, 12)
    step = api.post(f"/v1/branches/{other}/step")
    assert step.status_code == 503
    assert step.json()["type"].endswith("/no-worker")
    assert "Retry-After" in step.headers

    assert _census(cluster.db)["live"] == 0
    cluster.worker()
    assert _settled(api, branch)["status"] == "done"
    seen = _census(cluster.db)
    assert seen["live"] == 1 and seen["queued"] == 0
    assert [w["live"] for w in seen["workers"]] == [True]
    api.close()


def _census(db: str) -> dict[str, Any]:
    done = _aegntix("workers", "--db", db, "--json")
    assert done.returncode == 0, done.stderr
    body: dict[str, Any] = json.loads(done.stdout)
    return body


def _aegntix(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aegntix", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_worker_needs_postgresql(tmp_path: Path) -> None:
    done = _aegntix("worker", "--db", str(tmp_path / "x.db"))
    assert done.returncode == 2
    assert "workers need a postgresql:// URL" in done.stderr


def test_serve_workers_needs_postgresql(tmp_path: Path) -> None:
    done = _aegntix("serve", "--db", str(tmp_path / "x.db"), "--port", "0", "--workers", "1")
    assert done.returncode == 2
    assert "--workers needs a postgresql:// --db" in done.stderr
    assert not (tmp_path / "x.db").exists()  # refused before anything was written


def _free_run(count: int) -> int:
    """A port with the ``count - 1`` after it also free (bound and let go: a race with other
    processes is possible but unlikely on loopback)."""
    for _ in range(200):
        base = free_port()
        socks = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise AssertionError("no run of free ports")


def test_serve_workers_runs_a_branch_in_one_command_each_worker_its_metrics_port(
    pg_url: str, db: SqlStore, tmp_path: Path
) -> None:
    # the children inherited the server's AEGNTIX_METRICS_PORT, all exited at once with
    # "metrics port in use", and the server ran on with no worker
    base = _free_run(3)
    for cluster in cluster_of(pg_url, tmp_path, AEGNTIX_METRICS_PORT=str(base)):
        replica = cluster.serve(workers=2)
        api = replica.client()
        for port in (base + 1, base + 2):
            url = f"http://127.0.0.1:{port}/metrics"
            wait_for(f"a worker's metrics at {url}", partial(_scrapes, url))
        branch = _branch(api, 12)
        assert api.post(f"/v1/branches/{branch}/run").json()["status"] == "running"
        assert _settled(api, branch)["status"] == "done"
        api.close()
        replica.proc.terminate()
        replica.proc.wait(60)
        # its workers stopped with it (each unregisters from the queue on the way out)
        wait_for("the workers gone", lambda: census(db, 3.0).workers == [])


def _scrapes(url: str) -> bool:
    try:
        return "aegntix_slice_steps_total" in httpx.get(url, timeout=5).text
    except httpx.HTTPError:
        return False


def test_serve_says_when_one_of_its_workers_dies(cluster: Cluster) -> None:
    # it ran on with no worker and said nothing: runs queued with no word why
    replica = cluster.serve(workers=1)
    (child,) = psutil.Process(replica.proc.pid).children()
    child.kill()  # SIGKILL
    child.wait(30)
    replica.proc.terminate()
    _, stderr = replica.proc.communicate(timeout=60)
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    died = [line for line in lines if line.get("event", "").startswith("worker process exited")]
    assert len(died) == 1, stderr  # once, whether the watcher or the shutdown saw it first
    assert (died[0]["pid"], died[0]["exit_code"], died[0]["workers_alive"]) == (child.pid, -9, 0)


def test_a_worker_started_first_waits_then_pause_resume_step_cancel_reach_it(
    cluster: Cluster, db: SqlStore
) -> None:
    # docker-compose and systemd may start workers before any API replica: the worker must
    # create the tables and wait, not refuse an empty database
    cluster.worker()
    api = cluster.serve().client()
    first = new_town_hall(api, 6)
    assert api.post(f"/v1/branches/{first}/run").status_code == 202
    wait_for("the run to end", lambda: _status(api, first)["status"] == "done")

    # pause, resume, step and cancel through the API process reach the same worker
    branch = _branch(api, 400)
    intents = RunIntents(db)

    assert api.post(f"/v1/branches/{branch}/run").json()["status"] == "running"
    wait_for("a few steps", lambda: _status(api, branch)["head_step"] >= 3)
    paused = api.post(f"/v1/branches/{branch}/pause")
    # between slices nothing runs: the pause settles at once; mid-slice the worker stops it
    assert paused.status_code == 202 and paused.json()["status"] in {"pausing", "paused"}
    state = _settled(api, branch)
    assert state["status"] == "paused"
    assert intents.read(branch) is None  # settled: nothing queued for it any more
    at_pause = state["head_step"]
    assert 3 <= at_pause < 400

    # a paused branch's next slice is not queued: a step by hand is the next one
    stepped = api.post(f"/v1/branches/{branch}/step")
    assert stepped.status_code == 200, stepped.text
    assert stepped.json()["step"] == at_pause + 1
    assert _settled(api, branch)["head_step"] == at_pause + 1

    # resume for exactly 4 steps, run in slices of 3 on the worker
    assert api.post(f"/v1/branches/{branch}/resume", json={"steps": 4}).status_code == 202
    state = _settled(api, branch)
    assert state["head_step"] == at_pause + 5
    assert state["status"] == "idle"

    # a cancel stops it at once, wherever it is
    assert api.post(f"/v1/branches/{branch}/run").status_code == 202
    wait_for("more steps", lambda: _status(api, branch)["head_step"] >= at_pause + 8)
    cancelled = api.post(f"/v1/branches/{branch}/cancel")
    assert cancelled.status_code == 202, cancelled.text
    state = _settled(api, branch)
    assert state["status"] == "paused"
    assert state["head_step"] < 400
    assert api.post(f"/v1/branches/{branch}/pause").status_code == 409  # nothing runs
    assert api.post(f"/v1/branches/{branch}/cancel").status_code == 409
    chain = hashes(db, branch)
    assert dense(chain) and chain[-1][0] == state["head_seq"]
    api.close()
