"""``aegntix rollouts … --db postgresql://…`` runs the members on the work queue when a worker
is alive (a real ``aegntix worker`` process), with the same progress lines and the same
final output as a local run; ``--local`` keeps them in the CLI's processes; with no worker
alive the CLI runs them itself and says so in one line; an API replica reads a set the CLI
drives as running."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from aegntix.cli.rollouts import NO_WORKER_NOTE
from tests.postgres import SessionDatabase
from tests.workers.support import (
    Cluster,
    Replica,
    Worker,
    cluster_of,
    new_town_hall,
    town_hall,
    wait_for,
)

pytestmark = pytest.mark.slow

MEMBERS = 3


@dataclass
class Shared:
    """An API replica and a worker on one schema, started once for the module's tests that
    need a live worker (each makes its own root and sets; none stops a process)."""

    cluster: Cluster
    replica: Replica
    worker: Worker


@pytest.fixture(scope="module")
def shared(pg_database: SessionDatabase, tmp_path_factory: pytest.TempPathFactory) -> Any:
    for cluster in cluster_of(pg_database.new_url(), tmp_path_factory.mktemp("cli-rollouts")):
        replica = cluster.serve()  # (the timeline's tables exist before the worker starts)
        yield Shared(cluster, replica, cluster.worker())


def _cli(cluster: Cluster, *args: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "aegntix", *(str(a) for a in args), "--db", cluster.db],
        env=cluster._env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _root(cluster: Cluster, tmp: Path) -> str:
    scenario = tmp / "town-hall.yaml"
    scenario.write_bytes(town_hall(5))
    return str(
        _lines(_cli(cluster, "run", scenario, "--steps", 1, "--json").stdout)[0]["branch_id"]
    )


def _root_via(api: httpx.Client, max_steps: int) -> str:
    """A town hall one step on, made through the API (a CLI start-up fewer than ``_root``)."""
    root = new_town_hall(api, max_steps)
    stepped = api.post(f"/v1/branches/{root}/step")
    assert stepped.status_code == 200 and stepped.json()["step"] == 1, stepped.text

    def settled() -> bool:
        state = api.get(f"/v1/branches/{root}/status").json()
        return not state["running"] and state["head_step"] == 1

    wait_for("the root's first step settled", settled)
    return root


def _rollouts(cluster: Cluster, root: str, *extra: str) -> tuple[list[dict[str, Any]], str]:
    done = _cli(
        cluster,
        "rollouts",
        root,
        "--at",
        1,
        "--n",
        MEMBERS,
        "--inject",
        "Budget!",
        "--json",
        *extra,
    )
    return _lines(done.stdout), done.stderr


def _check_output(lines: list[dict[str, Any]]) -> list[str]:
    """Progress up to every member of both sets, then the set, done; its members' ids."""
    final = lines[-1]
    assert final["type"] == "set" and final["status"] == "done", final
    progress = [line for line in lines if line["type"] == "progress"]
    for set_id in (final["id"], final["control_id"]):
        mine = [p["done"] for p in progress if p["set_id"] == set_id]
        assert mine == sorted(mine) and mine[-1] == MEMBERS, progress
    assert all(p["total"] == MEMBERS for p in progress)
    return [final["id"], final["control_id"]]


def _members(cluster: Cluster, set_ids: list[str]) -> set[str]:
    ids: set[str] = set()
    for set_id in set_ids:
        shown = _lines(_cli(cluster, "rollouts", "show", set_id, "--json").stdout)[0]
        assert all(m["status"] == "done" for m in shown["members"])
        ids |= {m["branch_id"] for m in shown["members"]}
    return ids


def _members_via(api: httpx.Client, set_ids: list[str]) -> set[str]:
    """``_members`` read through the API replica (two CLI start-ups fewer)."""
    ids: set[str] = set()
    for set_id in set_ids:
        members = api.get(f"/v1/rollouts/{set_id}/members").json()
        assert len(members) == MEMBERS and all(m["status"] == "done" for m in members)
        ids |= {m["branch_id"] for m in members}
    return ids


def _sliced(worker: Worker, after: int) -> bool:
    """Whether the worker logged a slice done after its first ``after`` lines."""
    return any(line.get("event") == "slice done" for line in worker.lines()[after:])


def _settled_by(worker: Worker) -> set[str]:
    return {line["branch"] for line in worker.lines() if line.get("event") == "run settled"}


def test_with_a_live_worker_the_members_run_on_it(shared: Shared) -> None:
    cluster, worker = shared.cluster, shared.worker
    with shared.replica.client() as api:
        root = _root_via(api, 5)
        lines, stderr = _rollouts(cluster, root)
        members = _members_via(api, _check_output(lines))
    assert len(members) == 2 * MEMBERS
    assert members <= _settled_by(worker)  # every member (and its control) ran on the worker
    assert NO_WORKER_NOTE not in stderr


def test_local_keeps_the_members_here_though_a_worker_is_alive(shared: Shared) -> None:
    cluster, worker = shared.cluster, shared.worker
    with shared.replica.client() as api:
        root = _root_via(api, 5)
        lines, stderr = _rollouts(cluster, root, "--local")
        members = _members_via(api, _check_output(lines))
    assert len(members) == 2 * MEMBERS
    assert not members & _settled_by(worker)
    assert NO_WORKER_NOTE not in stderr


def test_with_no_live_worker_it_runs_here_and_says_so_in_one_line(
    cluster: Cluster, tmp_path: Path
) -> None:
    root = _root(cluster, tmp_path)
    lines, stderr = _rollouts(cluster, root)
    assert len(_members(cluster, _check_output(lines))) == 2 * MEMBERS
    assert stderr.count("aegntix worker") == 1, stderr
    assert " ".join(NO_WORKER_NOTE.split()) in " ".join(stderr.split())


def test_ctrl_c_pauses_the_members_the_cli_started_on_workers(shared: Shared) -> None:
    cluster, worker = shared.cluster, shared.worker
    api = shared.replica.client()
    root = _root_via(api, 5000)
    earlier = {s["id"] for s in api.get("/v1/rollouts").json()}  # other tests' sets
    logged = len(worker.lines())
    args = ["rollouts", root, "--at", "1", "--n", "2", "--json", "--db", cluster.db]
    cli = subprocess.Popen(
        [sys.executable, "-m", "aegntix", *args],
        env=cluster._env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for("members running on the worker", lambda: _sliced(worker, logged))
        # the CLI drives the set under its lease: an API replica reads it running
        listed = [s for s in api.get("/v1/rollouts").json() if s["id"] not in earlier]
        assert [s["running"] for s in listed] == [True]
        cli.send_signal(signal.SIGINT)
        out, err = cli.communicate(timeout=120)
    finally:
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 130, err
    set_id = _lines(out)[0]["set_id"]
    assert listed[0]["id"] == set_id

    def shown() -> dict[str, Any]:
        body: dict[str, Any] = _lines(_cli(cluster, "rollouts", "show", set_id, "--json").stdout)[0]
        return body

    def paused() -> bool:
        return all(m["status"] == "paused" for m in shown()["members"])

    wait_for("the members paused", paused)  # after their step, by the worker or the queue
    assert shown()["status"] == "partial"  # `continue` resumes it
    assert api.get(f"/v1/rollouts/{set_id}").json()["running"] is False  # lease released
    api.close()
