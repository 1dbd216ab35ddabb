"""Soak: many WebSocket clients and many runs in flight against real ``aegntix serve``
processes, for minutes; what clients see and what the servers cost. Prints a table and one
JSON line ``{"bench": "soak", ...}``.

- **servers**: ``--replicas N`` ``aegntix serve`` processes on loopback, on one database
  (a new SQLite file by default; ``--db postgresql://host/db`` makes a scratch database on that
  server, dropped at the end), and ``--workers N`` ``aegntix worker --db …`` processes (only
  when asked: the command must exist). Several processes share events on a bus (``--bus``;
  default Redis at 127.0.0.1:6379 for SQLite, the database itself for PostgreSQL).
- **load** (``_soak_clients.py``, in ``--client-procs`` processes): ``--runs`` run slots keep
  that many runs of ``--example`` in flight (fork its root at step 0 with a new seed, let the
  slot's followers connect, start the run, wait for its end, again) for ``--duration`` s;
  ``--clients`` WebSocket followers, spread over the slots and the replicas, follow each new
  run of their slot from seq 1 to its last event.
- **measured**: handshake (connect → ``hello``; and → ``101``) p50/p99; live delivery
  (``created_at`` of an event appended after the client's ``hello`` → its frame parsed in the
  client) p50/p99; per stream, every event exactly once and in order (duplicates, gaps, a
  missing tail); each server's RSS at the load's start, peak, end and after ``--settle`` s,
  its slope in the load's second half, and CPU; the client processes' own CPU and event-loop
  lag (whether the client kept up).

Targets (issue 13, with runs on workers): live delivery p99 < 50 ms, handshake p99 < 200 ms,
memory flat after the load. Baseline (one serve process running everything, 500 clients,
40 runs): handshake p50 9 s, delivery p99 6.8 s.

    .venv/bin/python benchmarks/soak.py --quick            # 30 s
    .venv/bin/python benchmarks/soak.py                    # 6 minutes, 500 clients, 40 runs
    .venv/bin/python benchmarks/soak.py --db postgresql://127.0.0.1:5432/test \\
        --replicas 2 --workers 3
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import resource
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx

from _common import emit, percentiles_ms, table
from _soak_clients import DRAIN_TIMEOUT, TAIL_TIMEOUT, Plan, client_main
from _soak_procs import PG_ROLE, Fleet, Sampler, fleet_of, worker_command_missing
from aegntix.timeline.postgres import is_postgres_url, postgres_url, shown_url

TARGETS_MS = {"live_p99": 50.0, "handshake_p99": 200.0}
BASELINE_MS = {"handshake_p50": 9000.0, "live_p99": 6800.0}
REDIS = "redis://127.0.0.1:6379/0"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="30 s of load, 10 s of settle")
    p.add_argument("--duration", type=float, help="seconds of load (default 360; --quick 30)")
    p.add_argument("--settle", type=float, help="seconds watched after the load (60; quick 10)")
    p.add_argument("--clients", type=int, default=500, help="WebSocket followers (500)")
    p.add_argument("--runs", type=int, default=40, help="runs kept in flight (40)")
    p.add_argument("--example", default="town-hall", help="the example scenario run")
    p.add_argument("--db", help="postgresql://… (a scratch database on that server is used)")
    p.add_argument("--replicas", type=int, default=1, help="aegntix serve processes (1)")
    p.add_argument("--workers", type=int, default=0, help="aegntix worker processes (0)")
    p.add_argument(
        "--worker-concurrency", type=int,
        help="slices a worker runs at once (the worker's default if not given): fewer leave "
        "the API replicas CPU headroom, the runs in flight then take longer",
    )  # fmt: skip
    p.add_argument("--bus", help="the bus for several processes (default: see above)")
    p.add_argument("--client-procs", type=int, default=1, help="client processes (1)")
    p.add_argument(
        "--follow-wait", type=float, default=10.0,
        help="how long a run waits for its followers to connect before it starts (10 s)",
    )  # fmt: skip
    p.add_argument("--no-deflate", action="store_true", help="no permessage-deflate offer")
    p.add_argument(
        "--batch", action="store_true",
        help="followers ask for batched frames (batch=1: JSON arrays of messages ready at once)",
    )  # fmt: skip
    args = p.parse_args()
    args.duration = args.duration or (30.0 if args.quick else 360.0)
    args.settle = args.settle if args.settle is not None else (10.0 if args.quick else 60.0)
    for name in ("clients", "runs", "replicas", "client_procs"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.workers < 0 or args.duration <= 0 or args.settle < 0 or args.follow_wait < 0:
        p.error("--workers, --settle and --follow-wait must be >= 0 and --duration > 0")
    if args.client_procs > args.runs:
        p.error("--client-procs must not exceed --runs (a process drives whole slots)")
    if args.db and not is_postgres_url(args.db):
        p.error("--db takes a postgresql:// URL (the default is a new SQLite file)")
    if args.workers and not args.db:
        p.error("--workers needs --db postgresql://… (workers share the database and queue)")
    return args


@contextlib.contextmanager
def database(args: argparse.Namespace, tmp: Path) -> Iterator[str]:
    if not args.db:
        yield str(tmp / "soak.db")
        return
    from _backends_pg import scratch_database

    with scratch_database(args.db, None) as url:
        yield url


def default_bus(args: argparse.Namespace, db: str) -> str | None:
    if args.bus:
        return str(args.bus)
    if args.replicas == 1 and not args.workers:
        return None  # one process: its in-process bus
    return db if is_postgres_url(db) else REDIS


def create_example(fleet: Fleet, name: str) -> tuple[str, int]:
    headers = {"Authorization": f"Bearer {fleet.key}"}
    r = httpx.post(f"{fleet.bases[0]}/v1/examples/{name}", headers=headers, timeout=120)
    if r.status_code != 201:
        raise SystemExit(f"soak: cannot create example '{name}': {r.status_code} {r.text[:200]}")
    root = r.json()["root_branch"]
    return str(root["id"]), int(root["head_seq"])


def plans(args: argparse.Namespace, fleet: Fleet, root: str, root_head: int) -> list[Plan]:
    """Slot s goes to process s % procs; follower n follows slot n % runs."""
    return [
        Plan(
            bases=fleet.bases,
            key=fleet.key,
            root=root,
            root_head=root_head,
            slots=[s for s in range(args.runs) if s % args.client_procs == p],
            followers=[n for n in range(args.clients) if (n % args.runs) % args.client_procs == p],
            total_slots=args.runs,
            duration=args.duration,
            follow_wait=args.follow_wait,
            deflate=not args.no_deflate,
            batch=args.batch,
        )
        for p in range(args.client_procs)
    ]


def load(args: argparse.Namespace, fleet: Fleet, sampler: Sampler) -> list[dict[str, Any]]:
    root, root_head = create_example(fleet, args.example)
    ctx = mp.get_context("spawn")
    pipes, procs = [], []
    for i, plan in enumerate(plans(args, fleet, root, root_head)):
        mine, theirs = ctx.Pipe()
        proc = ctx.Process(target=client_main, args=(plan, theirs), daemon=True)
        proc.start()
        sampler.add(f"client {i}", proc.pid or 0)
        pipes.append(mine)
        procs.append(proc)
    time.sleep(3.0)  # the clients import; the servers idle: the start is a resting state
    start_at = time.time() + 1.0
    for pipe in pipes:
        pipe.send(start_at)
    time.sleep(max(0.0, start_at - time.time()))
    sampler.mark("load_start")  # the load ends when the last run started in time has ended
    deadline = time.monotonic() + args.duration + DRAIN_TIMEOUT + TAIL_TIMEOUT + 120
    results = []
    for i, pipe in enumerate(pipes):
        while not pipe.poll(1.0):
            fleet.check_alive()
            if not procs[i].is_alive() or time.monotonic() > deadline:
                state = "hung" if procs[i].is_alive() else f"died ({procs[i].exitcode})"
                logs = "\n".join(f"--- {p.role}:\n{p.tail()}" for p in fleet.procs)
                raise SystemExit(f"soak: client process {i} {state}\n{logs}")
        results.append(pipe.recv())
    sampler.mark("load_end")
    for proc in procs:
        proc.join(30)
    return results


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for r in results:
        for k, v in r.items():
            if isinstance(v, int | float) and not isinstance(v, bool):
                out[k] = out.get(k, 0) + v
            elif isinstance(v, Counter):
                out[k] = out.get(k, Counter()) + v
            else:
                out[k] = [*out.get(k, []), *v]
    return out


def median(values: Iterable[float]) -> float:
    found = list(values)
    return statistics.median(found) if found else 0.0


def executing(runs: list[dict[str, Any]], wall: float) -> float:
    """Runs executing at once, on average over the load (the drain after it left out)."""
    inside = (max(0.0, min(r["to_s"], wall) - max(r["from_s"], 0.0)) for r in runs)
    return float(sum(inside)) / wall


def report(
    args: argparse.Namespace, db: str, bus: str | None, got: dict[str, Any], sampler: Sampler,
    servers: list[str],
) -> None:  # fmt: skip
    live, shake = percentiles_ms(got["live_s"] or [0.0]), percentiles_ms(got["handshake_s"])
    upgrade, lag = percentiles_ms(got["upgrade_s"]), percentiles_ms(got["lag_s"] or [0.0])
    runs, wall = got["runs"], args.duration
    in_load = [r for r in runs if not r["ended_after_load"]]
    statuses = Counter(r["status"] for r in runs)
    client_cores = got["cpu_s"] / max(got["wall_s"], 1e-9)  # mean per process
    connected = got["connected_mean"]  # summed over the client processes
    per_proc = {role: sampler.summary(role) for role in servers}
    once = {
        "streams": got["streams"],
        "bad_streams": got["bad_streams"],
        "duplicates": got["duplicates"],
        "gaps": got["gaps"],
        "missing_tail": got["missing_tail"],
        "resyncs": got["resyncs"],
    }
    print(f"soak: {args.clients} clients, {args.runs} runs in flight of {args.example}, "
          f"{args.duration:.0f} s, {args.replicas} serve + {args.workers} worker(s), "
          f"db {'postgresql' if is_postgres_url(db) else 'sqlite'}, bus {bus or 'in-process'}, "
          f"{args.client_procs} client process(es), "
          f"deflate {'off' if args.no_deflate else 'offered'}, "
          f"frames {'batched' if args.batch else 'one per message'}\n")  # fmt: skip
    table(
        ["measure", "p50 ms", "p99 ms", "max ms", "n", "target", "baseline (1 serve)"],
        [
            ["handshake (connect → hello)", shake["p50_ms"], shake["p99_ms"], shake["max_ms"],
             shake["n"], "p99 < 200 ms", "p50 9,000 ms"],
            ["  of which connect → 101", upgrade["p50_ms"], upgrade["p99_ms"], upgrade["max_ms"],
             upgrade["n"], "-", "-"],
            ["live delivery (created_at → client)", live["p50_ms"], live["p99_ms"],
             live["max_ms"], len(got["live_s"]), "p99 < 50 ms", "p99 6,800 ms"],
            ["client event-loop lag (50 ms ticker)", lag["p50_ms"], lag["p99_ms"], lag["max_ms"],
             lag["n"], "-", "-"],
        ],
    )  # fmt: skip
    print()
    per_k = 1000.0 / max(got["events"], 1)  # CPU ms per 1,000 events delivered
    for s in per_proc.values():
        s["cpu_ms_per_1k_delivered"] = round(s["cpu_s_load"] * per_k * 1000, 1)
        writes = s["write_syscalls_load"]
        s["writes_per_1k_delivered"] = None if writes is None else round(writes * per_k, 1)
    client_ms = round(got["cpu_s"] * per_k * 1000, 1)
    table(
        ["process", "RSS start MB", "peak", "end", f"after {args.settle:.0f} s",
         "slope MB/min (2nd half)", "CPU cores mean", "busiest 1 s", "after",
         "CPU ms / 1k delivered", "writes / 1k delivered"],
        [*([role, s["rss_start_mb"], s["rss_peak_mb"], s["rss_end_mb"], s["rss_after_mb"],
            s["rss_slope_mb_per_min_2nd_half"], s["cpu_cores_mean"], s["cpu_cores_peak_1s"],
            s["cpu_cores_after"], s["cpu_ms_per_1k_delivered"],
            "-" if s["writes_per_1k_delivered"] is None else s["writes_per_1k_delivered"]]
           for role, s in per_proc.items()),
         ["client(s)", "-", "-", "-", "-", "-", round(client_cores * args.client_procs, 3), "-",
          "-", client_ms, "-"]],
    )  # fmt: skip
    events = sum(r["events"] for r in in_load)
    print(
        f"\nexactly once, in order: {got['streams']:,} streams, {got['bad_streams']} with a "
        f"problem; {got['duplicates']} duplicates, {got['gaps']} gaps, {got['missing_tail']} "
        f"missing at the end; {got['resyncs']} resyncs; {got['events']:,} events delivered "
        f"({got['backlog']:,} of them from the store backlog)\n"
        f"runs: {len(runs):,} ({dict(statuses)}), {len(in_load) / wall:.2f}/s, "
        f"{events / wall:,.0f} events/s appended, {got['events'] / wall:,.0f} events/s "
        f"delivered; a run took {median(r['run_s'] for r in runs):.2f} s (p50) after waiting "
        f"{median(r['follow_wait_s'] for r in runs):.2f} s for its followers "
        f"({sum(r['followers_on_time'] for r in runs):,} of "
        f"{sum(r['followers'] for r in runs):,} were connected in time); "
        f"{executing(runs, wall):.1f} runs executing on average; "
        f"runs a follower skipped: {got['skipped_runs']}\n"
        f"clients: {connected:.0f} streams open on average; client CPU {client_cores:.2f} "
        f"cores per process; machine CPU {sampler.machine_cpu_percent()}% busy during the load"
    )
    if got["errors"]:
        print("errors:", dict(got["errors"].most_common(8)))
    emit(
        "soak",
        config={k: getattr(args, k) for k in ("clients", "runs", "example", "duration",
                "settle", "replicas", "workers", "worker_concurrency", "client_procs",
                "follow_wait")}
        | {"db": "postgresql" if is_postgres_url(db) else "sqlite",
           "db_url": shown_url(db) if is_postgres_url(db) else None,
           "bus": bus, "deflate": not args.no_deflate, "batch": args.batch},
        handshake=shake, upgrade=upgrade, live_delivery=live, exactly_once=once,
        events_delivered=got["events"], events_from_backlog=got["backlog"],
        runs={"count": len(runs), "statuses": dict(statuses), "per_s": len(in_load) / wall,
              "events_appended_per_s": events / wall,
              "run_s_p50": median(r["run_s"] for r in runs),
              "follow_wait_s_p50": median(r["follow_wait_s"] for r in runs),
              "executing_mean": executing(runs, wall)},
        processes=per_proc,
        client={"cpu_cores_per_proc": round(client_cores, 3),
                "cpu_ms_per_1k_delivered": client_ms, "loop_lag": lag,
                "mean_streams_open": round(connected, 1), "errors": dict(got["errors"])},
        machine_cpu_percent=sampler.machine_cpu_percent(),
        targets_ms=TARGETS_MS, baseline_ms=BASELINE_MS,
    )  # fmt: skip


def main() -> None:
    args = parse_args()
    if args.workers:
        missing = worker_command_missing()
        if missing is not None:
            raise SystemExit(
                f"soak: --workers needs the `aegntix worker` command, which this build does "
                f"not have ({missing}); run without --workers"
            )
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = args.clients * 2 + 1024  # inherited by the servers: a socket per client each
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    with tempfile.TemporaryDirectory() as tmp, database(args, Path(tmp)) as db:
        bus = default_bus(args, db)
        with fleet_of(
            db, args.replicas, args.workers, bus, Path(tmp), args.worker_concurrency
        ) as fleet:
            servers = [p.role for p in fleet.procs]
            pg = postgres_url(db).database if is_postgres_url(db) else None
            sampler = Sampler({p.role: p.popen.pid for p in fleet.procs}, pg_database=pg)
            servers += [PG_ROLE] if pg else []
            sampler.start()
            results = load(args, fleet, sampler)
            time.sleep(args.settle)
            sampler.mark("after")
            sampler.stop()
            fleet.check_alive()
        report(args, db, bus, merge(results), sampler, servers)


if __name__ == "__main__":
    main()
