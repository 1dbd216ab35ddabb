"""A cluster of real processes on one PostgreSQL schema: ``aegntix serve`` replicas and
``aegntix worker`` processes (subprocesses), with settings short enough for tests (leases of
3 s, heartbeats every 0.5 s, a worker stalled after 3 s, small slices). Waits are bounded by
generous deadlines that only fail a test that hangs; nothing asserts speed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from aegntix.engine.runner import Runner
from aegntix.timeline.sqlstore import SqlStore
from tests.support import EXAMPLES

#: Settings of every process of a test cluster.
FAST_ENV = {
    "AEGNTIX_LEASE_SECONDS": "3",
    "AEGNTIX_HEARTBEAT_SECONDS": "0.5",
    "AEGNTIX_STALLED_SECONDS": "3",
    "AEGNTIX_SLICE_STEPS": "3",
    "AEGNTIX_SLICE_MS": "2000",
}
START_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def town_hall(max_steps: int = 12) -> bytes:
    data = yaml.safe_load((EXAMPLES / "town-hall.yaml").read_text())
    data["termination"]["max_steps"] = max_steps
    return yaml.safe_dump(data).encode()


def new_town_hall(api: httpx.Client, max_steps: int = 12) -> str:
    """A town hall of ``max_steps`` steps created through the API; its root branch id."""
    r = api.post(
        "/v1/scenarios", content=town_hall(max_steps), headers={"content-type": "application/yaml"}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["root_branch"]["id"])


def wait_for(what: str, check: Callable[[], bool], timeout: float = 180.0) -> None:
    """Poll ``check`` until it holds, 50 ms apart at first, then backing off to 0.25 s: most
    checks are HTTP requests, and polling a replica 20 times a second for minutes took the
    CPU the processes under test needed on a 2-core machine."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 1.3, 0.25)


@dataclass
class Replica:
    proc: subprocess.Popen[str]
    base_url: str
    key: str

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {self.key}"}, timeout=60
        )

    @property
    def ws_base(self) -> str:
        return "ws://" + self.base_url.removeprefix("http://")


@dataclass
class Worker:
    proc: subprocess.Popen[str]
    log: Path

    def lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text().splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out


@dataclass
class Cluster:
    db: str
    tmp: Path
    env: dict[str, str] = field(default_factory=dict)
    procs: list[subprocess.Popen[str]] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    key: str | None = None
    _count: int = 0

    def _env(self) -> dict[str, str]:
        env = {**os.environ, **FAST_ENV, **self.env}
        env.pop("AEGNTIX_BUS", None)
        return env

    def serve(self, *, workers: int = 0) -> Replica:
        replica, ready = self._launch_serve(workers)
        wait_for("aegntix serve", ready, START_TIMEOUT)
        return replica

    def worker(
        self,
        *,
        concurrency: int = 4,
        log_level: str = "debug",
        wait: bool = True,
        metrics_port: int | None = None,
    ) -> Worker:
        worker, started = self._launch_worker(concurrency, log_level, metrics_port)
        if wait:
            wait_for("aegntix worker", started, START_TIMEOUT)
        return worker

    def start(
        self, *, serves: int = 0, workers: Sequence[int] = ()
    ) -> tuple[list[Replica], list[Worker]]:
        """Replicas and workers (of these concurrencies) started together, ready once all
        are: a start-up is mostly imports, and one after another a test waited for each in
        turn. A cluster's first replica is ready before the other replicas start: it writes
        the owner key they read (schema migrations take an advisory lock: no race there)."""
        launched = [self._launch_worker(c, "debug", None) for c in workers]
        replicas: list[Replica] = []
        if self.key is None and serves:
            replicas.append(self.serve())
            serves -= 1
        others = [self._launch_serve(0) for _ in range(serves)]
        for _, ready in others:
            wait_for("aegntix serve", ready, START_TIMEOUT)
        for _, started in launched:
            wait_for("aegntix worker", started, START_TIMEOUT)
        return replicas + [r for r, _ in others], [w for w, _ in launched]

    def _launch_serve(self, workers: int) -> tuple[Replica, Callable[[], bool]]:
        port = free_port()
        key_file = self.tmp / "owner.key"
        args = ["serve", "--db", self.db, "--port", str(port), "--key-file", str(key_file)]
        args += ["--workers", str(workers)]
        proc = subprocess.Popen(
            [sys.executable, "-m", "aegntix", *args],
            env=self._env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        replica = Replica(proc, base, self.key or "")

        def healthy() -> bool:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else "serve exited"
            try:
                if httpx.get(f"{base}/v1/health", timeout=2).status_code != 200:
                    return False
            except httpx.HTTPError:
                return False
            if self.key is None:  # the first replica wrote it
                self.key = key_file.read_text().strip()
            replica.key = self.key
            return True

        return replica, healthy

    def _launch_worker(
        self, concurrency: int, log_level: str, metrics_port: int | None
    ) -> tuple[Worker, Callable[[], bool]]:
        self._count += 1
        log = self.tmp / f"worker-{self._count}.log"
        args = ["worker", "--db", self.db, "--concurrency", str(concurrency)]
        if metrics_port is not None:
            args = ["--metrics-port", str(metrics_port), *args]
        with log.open("w") as sink:
            proc = subprocess.Popen(
                [sys.executable, "-m", "aegntix", *args, "--log-level", log_level],
                env=self._env(),
                stdout=subprocess.DEVNULL,
                stderr=sink,
                text=True,
            )
        self.procs.append(proc)
        worker = Worker(proc, log)
        self.workers.append(worker)

        def started() -> bool:
            assert proc.poll() is None, log.read_text()
            return any(line.get("event") == "worker started" for line in worker.lines())

        return worker, started

    def live_worker(self) -> Worker:
        """A worker process of this cluster still running, started if there is none (tests
        sharing a cluster: whichever ran before may have stopped it)."""
        for worker in self.workers:
            if worker.proc.poll() is None:
                return worker
        return self.worker()

    def stop_workers(self) -> None:
        """SIGTERM to every worker process still running, and wait for their exits (each
        unregisters from the queue on the way out)."""
        running = [w.proc for w in self.workers if w.proc.poll() is None]
        for proc in running:
            proc.terminate()
        for proc in running:
            proc.wait(60)

    @staticmethod
    def kill9(proc: subprocess.Popen[str]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def cluster_of(db: str, tmp: Path, **env: str) -> Iterator[Cluster]:
    cluster = Cluster(db, tmp, env)
    try:
        yield cluster
    finally:
        cluster.close()


def hashes(store: SqlStore, branch_id: str) -> list[tuple[int, str]]:
    """The branch's logical sequence as (seq, hash): the chain to compare."""
    return [(e.seq, e.hash) for e in store.events(branch_id)]


def reference(store: SqlStore, root_id: str, seed: int) -> list[tuple[int, str]]:
    """The same fork (step 0, ``seed``) run to the end in this process."""
    branch = store.fork(root_id, 0, seed=seed, label=f"reference-{seed}")
    asyncio.run(Runner(store, branch.id).run())
    return hashes(store, branch.id)


def dense(chain: list[tuple[int, str]]) -> bool:
    """Seqs 1..n, each once: no gap, no duplicate."""
    return [seq for seq, _ in chain] == list(range(1, len(chain) + 1))


def statuses(client: httpx.Client, branch_ids: list[str]) -> dict[str, dict[str, Any]]:
    return {b: client.get(f"/v1/branches/{b}/status").json() for b in branch_ids}


def all_done(client: httpx.Client, branch_ids: list[str]) -> bool:
    """Whether every branch is ``done`` (asks no further than the first that is not)."""
    return all(
        client.get(f"/v1/branches/{b}/status").json()["status"] == "done" for b in branch_ids
    )


def verify_ok(db: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aegntix", "verify", "--db", db],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
