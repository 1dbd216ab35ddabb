"""Distributed workers on PostgreSQL (procrastinate): town-hall steps/s with 1, 2 and 4 worker
processes, the queue's overhead per step (against the same branches run in-process),
append -> WebSocket latency on an API replica for events a worker wrote, and the wall time
of a rollout set (200 town-hall members of 20 steps; ``--quick``: 40 of 10) with 1, 2 and 4
workers, from queuing it as the API does to the set settled ``done`` (forks included).

Each measurement uses a fresh schema of a scratch database (``AEGNTIX_BENCH_PG``, default
postgresql://postgres@127.0.0.1:5432/postgres). Workers are real ``aegntix worker``
processes; runs are started through the ``QueueExecutor`` (the API's code path). Prints a
table and one JSON line ``{"bench": "workers", ...}``.

    .venv/bin/python benchmarks/workers.py
    .venv/bin/python benchmarks/workers.py --quick
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
import yaml
from websockets.asyncio.client import connect

from _backends_pg import scratch_database
from _common import emit, parse_args, percentiles_ms, table
from _queue_noop import noop_jobs_per_s
from aegntix.analysis.records import SetStatus
from aegntix.analysis.rollouts import create_set, repository
from aegntix.engine import Scheduler, start_scenario
from aegntix.model.loading import load_scenario
from aegntix.timeline import SqlStore, open_store
from aegntix.timeline.tenancy import TenantStore
from aegntix.workers.intents import RunIntents
from aegntix.workers.remote import QueueExecutor

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "town-hall.yaml"
SERVER = os.environ.get("AEGNTIX_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
ENV = {"AEGNTIX_HEARTBEAT_SECONDS": "1", "AEGNTIX_STALLED_SECONDS": "5"}


def _schema(db_url: str, name: str) -> str:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    return f"{db_url}?options={quote(f'-csearch_path={name}', safe='')}"


def _branches(store: SqlStore, count: int, max_steps: int) -> tuple[str, list[str]]:
    scenario = load_scenario(EXAMPLE)
    scenario = scenario.model_copy(
        update={"termination": scenario.termination.model_copy(update={"max_steps": max_steps})}
    )
    root = start_scenario(store, scenario)
    return root.id, [store.fork(root.id, 0, seed=s).id for s in range(1, count + 1)]


def _workers(url: str, count: int) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, **ENV}
    args = [sys.executable, "-m", "aegntix", "worker", "--db", url, "--log-level", "warning"]
    return [subprocess.Popen(args, env=env, stderr=subprocess.DEVNULL) for _ in range(count)]


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(60)


async def _run_on_workers(url: str, store: SqlStore, ids: list[str]) -> float:
    """Seconds from the first start to the last branch settled (workers already up)."""
    executor = await QueueExecutor.open(store, url)
    intents = RunIntents(store)
    scoped = TenantStore(store, store.get_branch(ids[0]).tenant_id)
    try:
        began = time.perf_counter()
        for branch_id in ids:
            await executor.start(scoped, branch_id)
        while any(intents.read(b) is not None for b in ids):
            await asyncio.sleep(0.02)
        return time.perf_counter() - began
    finally:
        await executor.close()


def _wait_live(store: SqlStore, count: int) -> None:
    from aegntix.workers.census import count_live

    deadline = time.monotonic() + 120
    while count_live(store, 5.0) < count:
        if time.monotonic() > deadline:
            raise SystemExit("workers did not start")
        time.sleep(0.1)


def throughput(db_url: str, workers: int, branches: int, steps: int) -> dict[str, Any]:
    url = _schema(db_url, f"w{workers}")
    store = open_store(url)
    try:
        _root, ids = _branches(store, branches, steps)
        procs = _workers(url, workers)
        try:
            _wait_live(store, workers)
            wall = asyncio.run(_run_on_workers(url, store, ids))
        finally:
            _stop(procs)
        ran = sum(store.get_branch(b).head_step for b in ids)
    finally:
        store.close()
    return {"workers": workers, "steps": ran, "wall_s": wall, "steps_per_s": ran / wall}


async def _set_on_workers(url: str, store: SqlStore, root: str, members: int) -> float:
    """Seconds from queuing a set of ``members`` (as the API does) to the set ``done``."""
    scoped = TenantStore(store, store.get_branch(root).tenant_id)
    rollout = create_set(scoped, root, 0, members, seed_base=7, fork=False)
    repo = repository(scoped)
    executor = await QueueExecutor.open(store, url)
    try:
        began = time.perf_counter()
        await executor.drive_sets(scoped, [rollout.id])
        while (status := repo.get(rollout.id).status) is SetStatus.RUNNING:
            await asyncio.sleep(0.05)
        wall = time.perf_counter() - began
        if status is not SetStatus.DONE:  # said, not hidden: the other figures still print
            print(f"rollout set with {members} members ended {status.value}", file=sys.stderr)
        return wall
    finally:
        await executor.close()


def rollout_set(db_url: str, workers: int, members: int, steps: int) -> dict[str, Any]:
    url = _schema(db_url, f"set{workers}")
    store = open_store(url)
    try:
        root, _ids = _branches(store, 0, steps)
        procs = _workers(url, workers)
        try:
            _wait_live(store, workers)
            wall = asyncio.run(_set_on_workers(url, store, root, members))
        finally:
            _stop(procs)
    finally:
        store.close()
    return {"workers": workers, "members": members, "wall_s": wall}


def in_process(db_url: str, branches: int, steps: int) -> dict[str, Any]:
    url = _schema(db_url, "inproc")
    store = open_store(url)
    try:
        _root, ids = _branches(store, branches, steps)

        async def run() -> float:
            began = time.perf_counter()
            await Scheduler(store).run_all(ids)
            return time.perf_counter() - began

        wall = asyncio.run(run())
        ran = sum(store.get_branch(b).head_step for b in ids)
    finally:
        store.close()
    return {"steps": ran, "wall_s": wall, "steps_per_s": ran / wall}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ws_latency(db_url: str, steps: int) -> dict[str, float]:
    """Append (the event's created_at, set by the worker) -> received by a WebSocket client
    of an API replica, for one branch run by one worker."""
    url = _schema(db_url, "ws")
    tmp = Path(tempfile.mkdtemp())
    port = _free_port()
    env = {**os.environ, **ENV}
    args = ["serve", "--db", url, "--port", str(port), "--key-file", str(tmp / "k.key")]
    serve = subprocess.Popen(
        [sys.executable, "-m", "aegntix", *args], env=env, stdout=subprocess.DEVNULL
    )
    procs = _workers(url, 1)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("serve did not start")
            time.sleep(0.1)
        key = (tmp / "k.key").read_text().strip()
        data = yaml.safe_load(EXAMPLE.read_text())
        data["termination"]["max_steps"] = steps
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            r = http.post(
                "/v1/scenarios",
                content=yaml.safe_dump(data).encode(),
                headers={"content-type": "application/yaml"},
            )
            branch = r.json()["root_branch"]["id"]
        return asyncio.run(_measure_ws(base, key, branch))
    finally:
        _stop(procs)
        serve.terminate()
        serve.wait(30)


async def _measure_ws(base: str, key: str, branch: str) -> dict[str, float]:
    ws_url = base.replace("http://", "ws://") + f"/v1/branches/{branch}/stream?api_key={key}"
    lags: list[float] = []
    seen: list[str] = []
    async with (
        connect(ws_url) as ws,
        httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}) as http,
    ):
        await ws.recv()  # hello
        started = await http.post(f"/v1/branches/{branch}/run")
        assert started.status_code == 202, started.text
        while True:
            try:
                message = json.loads(await asyncio.wait_for(ws.recv(), 60))
            except TimeoutError:
                break
            seen.append(message["type"] + ":" + str(message.get("status", "")))
            if message["type"] == "ping":
                await ws.send(json.dumps({"type": "pong"}))
            if message["type"] == "status" and message.get("status") == "done":
                break
            if message["type"] != "event":
                continue
            created = datetime.fromisoformat(message["event"]["created_at"])
            if message["event"]["step"] > 0:
                lags.append(time.time() - created.timestamp())
    if not lags:
        raise SystemExit(f"no event reached the stream; it saw: {seen[:20]}")
    return percentiles_ms(lags)


def main() -> None:
    args = parse_args(__doc__ or "")
    branches, steps = (4, 24) if args.quick else (12, 60)
    with scratch_database(SERVER, None) as db_url:
        local = in_process(db_url, branches, steps)
        one = throughput(db_url, 1, branches, steps)
        two = throughput(db_url, 2, branches, steps)
        four = throughput(db_url, 4, branches, steps)
        ws = ws_latency(db_url, 24 if args.quick else 60)
        noop = noop_jobs_per_s(_schema(db_url, "noop"), 500 if args.quick else 2000, 2)
        members, member_steps = (40, 10) if args.quick else (200, 20)
        sets = {w: rollout_set(db_url, w, members, member_steps)["wall_s"] for w in (1, 2, 4)}
    overhead_ms = (one["wall_s"] - local["wall_s"]) / one["steps"] * 1000
    table(
        ["what", "value"],
        [
            ("in-process steps/s (1 process)", round(local["steps_per_s"], 1)),
            ("1 worker steps/s", round(one["steps_per_s"], 1)),
            ("2 workers steps/s", round(two["steps_per_s"], 1)),
            ("4 workers steps/s", round(four["steps_per_s"], 1)),
            ("scale 1 -> 2", round(two["steps_per_s"] / one["steps_per_s"], 2)),
            ("scale 1 -> 4", round(four["steps_per_s"] / one["steps_per_s"], 2)),
            ("slice overhead per step, ms (1 worker vs in-process)", round(overhead_ms, 2)),
            ("append -> WebSocket on a replica p50 ms", round(ws["p50_ms"], 2)),
            ("append -> WebSocket on a replica p99 ms", round(ws["p99_ms"], 2)),
            ("events measured", int(ws["n"])),
            ("procrastinate no-op jobs/s, 2 worker processes", round(noop, 1)),
            (f"rollout set {members}x{member_steps} steps, 1 worker, s", round(sets[1], 1)),
            (f"rollout set {members}x{member_steps} steps, 2 workers, s", round(sets[2], 1)),
            (f"rollout set {members}x{member_steps} steps, 4 workers, s", round(sets[4], 1)),
            ("rollout set scale 1 -> 2", round(sets[1] / sets[2], 2)),
        ],
    )
    emit(
        "workers",
        branches=branches,
        steps_per_branch=steps,
        in_process_steps_per_s=local["steps_per_s"],
        one_worker_steps_per_s=one["steps_per_s"],
        two_workers_steps_per_s=two["steps_per_s"],
        four_workers_steps_per_s=four["steps_per_s"],
        scale_1_to_2=two["steps_per_s"] / one["steps_per_s"],
        scale_1_to_4=four["steps_per_s"] / one["steps_per_s"],
        slice_overhead_ms_per_step=overhead_ms,
        ws_p50_ms=ws["p50_ms"],
        ws_p99_ms=ws["p99_ms"],
        noop_jobs_per_s_2_workers=noop,
        set_members=members,
        set_steps_per_member=member_steps,
        set_wall_s_1_worker=sets[1],
        set_wall_s_2_workers=sets[2],
        set_wall_s_4_workers=sets[4],
        set_scale_1_to_2=sets[1] / sets[2],
        cores=os.cpu_count(),
    )


if __name__ == "__main__":
    main()
