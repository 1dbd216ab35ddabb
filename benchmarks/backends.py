"""The timeline store on SQLite and PostgreSQL side by side, in one run (issue 12).

Per backend: append throughput (bulk, 10,000 events per call; and 32 threads each appending
whole steps of 11 events to its own branch), building 1M events of history (bulk), fork p99
at 100 / 100k / 1M events of history, state-at-step p99 at 1M events, reading a 5,000-event
history. PostgreSQL also gets its floors on this machine -- raw psycopg ``executemany`` of the
same rows into a bare copy of the ``events`` table, same writers and rows per commit; and for
a fork, one INSERT of a branch row + COMMIT, timed after each fork so both see the same load
(p50 / p99 printed beside the fork's: whether a durable commit alone fits the target here) --
and appends from 1 vs 2 writing processes (real processes, each with its own branches).
PostgreSQL runs in a scratch database ``aegntix_bench_<random>``, dropped at the end.
Prints a table and one JSON line ``{"bench": "backends", ...}``.

    .venv/bin/python benchmarks/backends.py --quick      # 100 / 10k / 100k events, a minute
    .venv/bin/python benchmarks/backends.py              # 100 / 100k / 1M events
    .venv/bin/python benchmarks/backends.py --pg-options=-csynchronous_commit=off
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _backends_pg import ForkFloor, floor_inserts, process_appends, scratch_database
from _common import build_history, emit, percentiles_ms, settle, step_events, table
from aegntix.timeline import SqlStore, open_store, state_at

FORK_TARGET_P99_MS = 2.0
FLOOR_TARGET_RATIO = 0.5
PROCESS_TARGET_SPEEDUP = 1.6
THREADS = 32
READ_EVENTS = 5_000


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--pg",
        default=os.environ.get("AEGNTIX_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="the PostgreSQL server (a scratch database is created on it and dropped)",
    )
    parser.add_argument(
        "--pg-options",
        default=None,
        help="session options for every PostgreSQL connection, e.g. -csynchronous_commit=off",
    )
    return parser.parse_args()


def _append_threads(store: SqlStore, steps_per_thread: int) -> tuple[dict[str, Any], list[str]]:
    scenario = store.create_scenario("threads", {})
    branches = [store.create_branch(scenario.id, seed=1).id for _ in range(THREADS)]
    payloads = [step_events(i) for i in range(steps_per_thread)]

    def work(branch: str) -> None:
        for events in payloads:
            store.append(branch, events)

    workers = [threading.Thread(target=work, args=(b,)) for b in branches]
    start = time.perf_counter()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    elapsed = time.perf_counter() - start
    events = THREADS * sum(len(p) for p in payloads)
    return {"events": events, "events_per_s": round(events / elapsed)}, branches


def _fork_p99(
    store: SqlStore, root: str, forks: int, rng: random.Random, floor: str | None
) -> dict[str, Any]:
    """Fork p50/p99; with ``floor`` (a PostgreSQL URL), also the floor's, timed after each
    fork (``ForkFloor``), so the two see the same moment of the machine."""
    head_step = store.get_branch(root).head_step
    for _ in range(20):  # warm-up, not measured
        store.fork(root, rng.randint(0, head_step))
    beside = ForkFloor(floor) if floor is not None else None
    samples, floors = [], []
    try:
        for i in range(forks):
            at = head_step if i % 10 == 0 else rng.randint(0, head_step)
            t0 = time.perf_counter()
            store.fork(root, at)
            samples.append(time.perf_counter() - t0)
            if beside is not None:
                t0 = time.perf_counter()
                beside.once()
                floors.append(time.perf_counter() - t0)
    finally:
        if beside is not None:
            beside.close()
    out: dict[str, Any] = percentiles_ms(samples)
    if floors:
        out["floor"] = percentiles_ms(floors)
    return out


def _state_at_p99(store: SqlStore, root: str, reads: int, rng: random.Random) -> dict[str, float]:
    head_step = store.get_branch(root).head_step
    state_at(store, root, 0)
    samples = []
    for _ in range(reads):
        step = rng.randint(0, head_step)
        t0 = time.perf_counter()
        state_at(store, root, step)
        samples.append(time.perf_counter() - t0)
    return percentiles_ms(samples)


def _read_history(store: SqlStore, reads: int) -> dict[str, float]:
    scenario = store.create_scenario("read", {})
    branch = store.create_branch(scenario.id, seed=1).id
    build_history(store, branch, READ_EVENTS)
    assert sum(1 for _ in store.events(branch)) >= READ_EVENTS
    samples = []
    for _ in range(reads):
        t0 = time.perf_counter()
        for _event in store.events(branch):
            pass
        samples.append(time.perf_counter() - t0)
    return percentiles_ms(samples)


def _measure(db: str, quick: bool) -> dict[str, Any]:
    """Everything measured on one store (``db``: a SQLite path or a postgresql:// URL)."""
    sizes = [100, 10_000, 100_000] if quick else [100, 100_000, 1_000_000]
    forks = 200 if quick else 500
    rng = random.Random(7)
    out: dict[str, Any] = {}
    store = open_store(db, snapshot_every=500)
    try:
        out["backend"] = str(store.engine.dialect.name)
        scenario = store.create_scenario("bulk", {})
        bulk_events = 50_000 if quick else 200_000
        out["append_bulk_events_per_s"] = round(
            build_history(store, store.create_branch(scenario.id, seed=1).id, bulk_events)
        )
        threads, out["thread_branches"] = _append_threads(store, 60 if quick else 300)
        out["append_threads_events_per_s"] = threads["events_per_s"]
        out["append_threads_events"] = threads["events"]
        out["fork"] = {}
        root = ""
        for size in sizes:
            root = store.create_branch(scenario.id, seed=1).id
            t0 = time.perf_counter()
            build_history(store, root, size)
            built = time.perf_counter() - t0
            settle(store)
            floor = db if out["backend"] == "postgresql" else None
            out["fork"][size] = {
                "build_s": round(built, 1),
                **_fork_p99(store, root, forks, rng, floor),
            }
        out["state_at_events"] = sizes[-1]
        out["state_at"] = _state_at_p99(store, root, 300 if quick else 1000, rng)
        out["read_5000"] = _read_history(store, 20 if quick else 50)
    finally:
        store.close()
    return out


def main() -> None:
    args = _args()
    load_before = os.getloadavg()
    started = time.perf_counter()
    with scratch_database(args.pg, args.pg_options) as url:  # fails fast with no server
        with tempfile.TemporaryDirectory() as tmp:
            sqlite = _measure(str(Path(tmp) / "bench.db"), args.quick)
        pg = _measure(url, args.quick)
        floor_bulk = floor_inserts(url, pg["thread_branches"], 10_000, 1)
        floor_steps = floor_inserts(url, pg["thread_branches"], 11, THREADS)
        steps = 100 if args.quick else 400
        one = process_appends(url, 1, 16, steps)
        two = process_appends(url, 2, 16, steps)
    results = {"sqlite": sqlite, "postgresql": pg}
    sizes = list(pg["fork"])
    big = sizes[-1]

    def both(value: Callable[[dict[str, Any]], Any]) -> tuple[Any, Any]:
        return value(sqlite), value(pg)

    def p50_p99(sample: dict[str, float], digits: int = 2) -> str:
        return f"{sample['p50_ms']:.{digits}f} / {sample['p99_ms']:.{digits}f}"

    rows: list[tuple[Any, ...]] = [
        ("append, bulk (10k events/call), ev/s", *both(lambda r: r["append_bulk_events_per_s"])),
        (
            f"append, {THREADS} threads x 11 events, ev/s",
            *both(lambda r: r["append_threads_events_per_s"]),
        ),
        (f"build {big:,} events (bulk), s", *both(lambda r: r["fork"][big]["build_s"])),
        *[
            row
            for size in sizes
            for row in (
                (
                    f"fork p50 / p99 at {size:,} events, ms",
                    p50_p99(sqlite["fork"][size]),
                    p50_p99(pg["fork"][size]),
                ),
                (
                    "  floor beside it: 1 branch row + commit, ms",
                    "-",
                    p50_p99(pg["fork"][size]["floor"]),
                ),
            )
        ],
        (f"state at step p50 / p99, {big:,} events, ms", *both(lambda r: p50_p99(r["state_at"]))),
        (
            f"read a {READ_EVENTS:,}-event history p50 / p99, ms",
            *both(lambda r: p50_p99(r["read_5000"], 1)),
        ),
        ("floor: raw psycopg, 1 conn, 10k rows/commit, ev/s", "-", floor_bulk["events_per_s"]),
        (
            f"floor: raw psycopg, {THREADS} conns, 11 rows/commit, ev/s",
            "-",
            floor_steps["events_per_s"],
        ),
        ("1 writing process (16 threads), ev/s", "-", one["events_per_s"]),
        ("2 writing processes (16 threads each), ev/s", "-", two["events_per_s"]),
    ]
    table(["what", "SQLite", "PostgreSQL"], rows)
    fork_p99 = {size: pg["fork"][size]["p99_ms"] for size in sizes}
    floor_p99 = {size: pg["fork"][size]["floor"]["p99_ms"] for size in sizes}
    bulk_ratio = pg["append_bulk_events_per_s"] / floor_bulk["events_per_s"]
    steps_ratio = pg["append_threads_events_per_s"] / floor_steps["events_per_s"]
    speedup = two["events_per_s"] / one["events_per_s"]
    targets = {
        "pg_fork_p99_under_2ms": max(fork_p99.values()) < FORK_TARGET_P99_MS,
        # Whether the target is reachable at all here: a bare durable commit of one row.
        "pg_fork_floor_p99_under_2ms": max(floor_p99.values()) < FORK_TARGET_P99_MS,
        "pg_append_bulk_vs_floor": round(bulk_ratio, 2),
        "pg_append_threads_vs_floor": round(steps_ratio, 2),
        "pg_append_at_least_half_floor": min(bulk_ratio, steps_ratio) >= FLOOR_TARGET_RATIO,
        "pg_two_process_speedup": round(speedup, 2),
        "pg_two_process_speedup_ok": speedup >= PROCESS_TARGET_SPEEDUP,
    }
    load_after = os.getloadavg()
    print(
        f"PostgreSQL fork p99 {max(fork_p99.values()):.2f} ms (target < {FORK_TARGET_P99_MS:g}; "
        f"floor beside it, one row + commit: p99 {max(floor_p99.values()):.2f} ms); "
        f"append / floor: bulk {bulk_ratio:.2f}, threads {steps_ratio:.2f} (target >= "
        f"{FLOOR_TARGET_RATIO}); 2 vs 1 processes {speedup:.2f}x (target >= "
        f"{PROCESS_TARGET_SPEEDUP}); load {load_before[0]:.1f} -> {load_after[0]:.1f}; "
        f"{time.perf_counter() - started:.0f} s"
    )
    for r in (sqlite, pg):
        del r["thread_branches"]
    emit(
        "backends",
        quick=args.quick,
        pg_options=args.pg_options,
        floor={
            "append": "raw psycopg executemany of the same rows into a bare copy of events",
            "fork": "raw psycopg INSERT of one branch row + COMMIT, after each fork (fork.floor)",
        },
        load_1min=[round(load_before[0], 2), round(load_after[0], 2)],
        results=results,
        floor_bulk=floor_bulk,
        floor_threads=floor_steps,
        processes={"one": one, "two": two},
        targets=targets,
    )


if __name__ == "__main__":
    main()
