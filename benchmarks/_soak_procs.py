"""The processes ``soak.py`` measures: ``aegntix serve`` replicas and ``aegntix worker``s on one
database, started as a user would start them, and a sampler of their memory and CPU."""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import psutil

AEGNTIX = [sys.executable, "-m", "aegntix"]
START_TIMEOUT = 120.0  # a loaded machine starts Python slowly
MB = 1024 * 1024


def worker_command_missing() -> str | None:
    """Why ``aegntix worker`` cannot be used (None: it can): its ``--help`` must succeed."""
    done = subprocess.run(
        [*AEGNTIX, "worker", "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode == 0:
        return None
    said = [line.strip(" │╭╮╰╯─") for line in (done.stderr or done.stdout).splitlines()]
    said = [line for line in said if line and not line.startswith(("Usage:", "Try ", "Error"))]
    return said[0] if said else f"exit status {done.returncode}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Proc:
    role: str  # "serve 0", "worker 1", ...
    popen: subprocess.Popen[bytes]
    log: Path
    base: str | None = None  # a replica's http://127.0.0.1:PORT

    def tail(self, lines: int = 8) -> str:
        try:
            text = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])


@dataclass
class Fleet:
    serves: list[Proc] = field(default_factory=list)
    workers: list[Proc] = field(default_factory=list)
    key: str = ""

    @property
    def procs(self) -> list[Proc]:
        return [*self.serves, *self.workers]

    @property
    def bases(self) -> list[str]:
        return [p.base for p in self.serves if p.base]

    def check_alive(self) -> None:
        for p in self.procs:
            if p.popen.poll() is not None:
                raise SystemExit(
                    f"soak: {p.role} exited with status {p.popen.returncode}:\n{p.tail()}"
                )


def _spawn(role: str, args: list[str], logs: Path, env: dict[str, str]) -> Proc:
    log = logs / f"{role.replace(' ', '-')}.log"
    out: IO[bytes] = log.open("wb")
    popen = subprocess.Popen([*AEGNTIX, *args], stdout=out, stderr=subprocess.STDOUT, env=env)
    out.close()  # the child has its own descriptor
    return Proc(role, popen, log)


def _wait_healthy(proc: Proc, fleet: Fleet) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        fleet.check_alive()
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{proc.base}/v1/health", timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"soak: {proc.role} did not answer within {START_TIMEOUT:.0f} s")
        time.sleep(0.2)


def _wait_started(proc: Proc, fleet: Fleet) -> None:
    """Until the worker logged ``worker started`` (it takes jobs): on a busy machine its
    imports take tens of seconds, and a load started before would time the queue instead."""
    deadline = time.monotonic() + START_TIMEOUT
    while "worker started" not in proc.tail(50):
        fleet.check_alive()
        if time.monotonic() > deadline:
            raise SystemExit(f"soak: {proc.role} did not start within {START_TIMEOUT:.0f} s")
        time.sleep(0.2)


@contextlib.contextmanager
def fleet_of(
    db: str,
    replicas: int,
    workers: int,
    bus: str | None,
    logs: Path,
    worker_concurrency: int | None = None,
) -> Iterator[Fleet]:
    """``replicas`` serve processes (the first mints the owner key and migrates the database)
    and ``workers`` worker processes (``--concurrency worker_concurrency`` if given); all
    stopped (SIGTERM, then SIGKILL) at the end."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("AEGNTIX_BUS", None)
    if bus:
        env["AEGNTIX_BUS"] = bus
    fleet = Fleet()
    key_file = logs / "owner.key"
    try:
        for i in range(replicas):
            port = free_port()
            args = ["serve", "--db", db, "--port", str(port), "--key-file", str(key_file)]
            proc = _spawn(f"serve {i}", args, logs, env)
            proc.base = f"http://127.0.0.1:{port}"
            fleet.serves.append(proc)
            _wait_healthy(proc, fleet)  # one by one: the first creates the schema and key
        fleet.key = key_file.read_text().strip()
        more = [] if worker_concurrency is None else ["--concurrency", str(worker_concurrency)]
        for i in range(workers):
            fleet.workers.append(_spawn(f"worker {i}", ["worker", "--db", db, *more], logs, env))
        for proc in fleet.workers:
            _wait_started(proc, fleet)
        fleet.check_alive()
        yield fleet
    finally:
        for p in fleet.procs:
            if p.popen.poll() is None:
                p.popen.terminate()
        for p in fleet.procs:
            try:
                p.popen.wait(30)
            except subprocess.TimeoutExpired:
                p.popen.kill()
                p.popen.wait(10)


PG_ROLE = "postgresql"


class _PgBackends:
    """The PostgreSQL server processes serving one database (``postgres: user db host …``):
    their CPU time summed (a backend that exits keeps counting what it used) and RSS."""

    def __init__(self, database: str) -> None:
        self.tag = f" {database} "
        self.seen: dict[int, float] = {}  # pid -> CPU seconds at its last sample
        self.used = 0.0

    def sample(self) -> tuple[float, float]:
        rss = 0.0
        for proc in psutil.process_iter(["name", "cmdline"]):
            with contextlib.suppress(psutil.Error):
                line = " ".join(proc.info["cmdline"] or ()) + " "
                if not line.startswith("postgres:") or self.tag not in line:
                    continue
                cpu = proc.cpu_times()
                total = cpu.user + cpu.system
                self.used += total - self.seen.get(proc.pid, 0.0)
                self.seen[proc.pid] = total
                rss += proc.memory_info().rss / MB
        return rss, self.used


class Sampler(threading.Thread):
    """RSS and CPU time of each process (and the machine's CPU use) once a second; with
    ``pg_database``, also of the PostgreSQL backends serving that database."""

    def __init__(
        self, procs: dict[str, int], period: float = 1.0, pg_database: str | None = None
    ) -> None:
        super().__init__(daemon=True)
        self.period = period
        self.handles = {role: psutil.Process(pid) for role, pid in procs.items()}
        self.pg = _PgBackends(pg_database) if pg_database else None
        self.samples: list[tuple[float, dict[str, tuple[float, float]], float]] = []
        self.marks: dict[str, float] = {}
        self.writes: dict[str, dict[str, int]] = {}  # mark -> role -> write system calls
        self._halt = threading.Event()
        psutil.cpu_percent()  # the first call only starts the measure

    def add(self, role: str, pid: int) -> None:
        self.handles[role] = psutil.Process(pid)

    def mark(self, name: str) -> None:
        self.sample()
        self.marks[name] = time.monotonic()
        self.writes[name] = {}
        for role, handle in list(self.handles.items()):
            with contextlib.suppress(psutil.Error, AttributeError):  # Linux: ``syscw``
                self.writes[name][role] = handle.io_counters().write_count

    def sample(self) -> None:
        now, seen = time.monotonic(), {}
        for role, handle in list(self.handles.items()):
            with contextlib.suppress(psutil.Error):
                cpu = handle.cpu_times()
                seen[role] = (handle.memory_info().rss / MB, cpu.user + cpu.system)
        if self.pg is not None:
            seen[PG_ROLE] = self.pg.sample()
        self.samples.append((now, seen, psutil.cpu_percent()))

    def run(self) -> None:
        while not self._halt.wait(self.period):
            self.sample()

    def stop(self) -> None:
        self._halt.set()
        self.join(10)

    def summary(self, role: str) -> dict[str, Any]:
        """Memory at the load's start, peak, end and after the settle; its slope over the
        second half of the load; CPU cores used during the load (mean, busiest second)."""
        start, end, after = (self.marks[k] for k in ("load_start", "load_end", "after"))
        series = [(t, s[role]) for t, s, _ in self.samples if role in s]
        during = [(t, v) for t, v in series if start <= t <= end]
        at = {k: _nearest(series, t) for k, t in self.marks.items()}
        cores = [
            (b[1][1] - a[1][1]) / (b[0] - a[0])
            for a, b in itertools.pairwise(during)
            if b[0] > a[0]
        ]
        half = [(t, v[0]) for t, v in during if t >= (start + end) / 2]
        return {
            "rss_start_mb": round(at["load_start"][0], 1),
            "rss_peak_mb": round(max(v[0] for _, v in during), 1),
            "rss_end_mb": round(at["load_end"][0], 1),
            "rss_after_mb": round(at["after"][0], 1),
            "rss_slope_mb_per_min_2nd_half": round(_slope(half) * 60, 2),
            "cpu_s_load": round(at["load_end"][1] - at["load_start"][1], 2),
            "cpu_cores_mean": round((at["load_end"][1] - at["load_start"][1]) / (end - start), 3),
            "cpu_cores_peak_1s": round(max(cores, default=0.0), 3),
            "cpu_cores_after": round(
                (at["after"][1] - at["load_end"][1]) / max(1e-9, after - end), 3
            ),
            # write system calls during the load (sockets included): what sending costs
            # the kernel, exact where CPU time is noisy (None: not readable here)
            "write_syscalls_load": self._writes(role),
        }

    def _writes(self, role: str) -> int | None:
        start, end = self.writes.get("load_start", {}), self.writes.get("load_end", {})
        if role not in start or role not in end:
            return None
        return end[role] - start[role]

    def machine_cpu_percent(self) -> float:
        """Whole-machine CPU use during the load (all processes, ours and others')."""
        start, end = self.marks["load_start"], self.marks["load_end"]
        busy = [p for t, _, p in self.samples if start < t <= end]
        return round(sum(busy) / len(busy), 1) if busy else 0.0


def _nearest(series: list[tuple[float, tuple[float, float]]], t: float) -> tuple[float, float]:
    return min(series, key=lambda point: abs(point[0] - t))[1]


def _slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope (per second) of ``(t, value)``."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    return sum((t - mt) * (v - mv) for t, v in points) / var if var else 0.0
