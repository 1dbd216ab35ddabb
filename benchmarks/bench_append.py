"""Append throughput with many concurrent appenders (DESIGN §5: >= 50,000 events/s to SQLite
WAL, group commit), and how much the writer batches.

Every appender owns one branch (as a running scenario does) and appends ``k`` events per call:
k=1 is one event per round trip, k=11 is one whole step of a 5-agent scenario (a decision and
a message per agent plus a world patch). Threads call ``append``; asyncio tasks call
``append_async`` in one event loop. A single-appender bulk run (10,000 events per call, the
path benchmarks use to build history) is the ceiling. Prints a table and one JSON line
``{"bench": "append", ...}``.

    .venv/bin/python benchmarks/bench_append.py
    .venv/bin/python benchmarks/bench_append.py --quick
    .venv/bin/python benchmarks/bench_append.py --quick --db postgresql://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from _common import backend_name, bench_store, build_history, emit, parse_args, step_events, table
from aegntix.model.events import EventKind, NewEvent
from aegntix.timeline import SqlStore

TARGET_EVENTS_PER_S = 50_000


def _events(k: int, i: int) -> list[NewEvent]:
    if k == 11:
        return step_events(i)
    return [
        NewEvent(i, EventKind.MESSAGE, {"text": f"message {i}.{j}", "to": None}, "a0")
        for j in range(k)
    ]


def _measure(store: SqlStore, mode: str, appenders: int, k: int, total: int) -> dict[str, Any]:
    scenario = store.create_scenario("bench", {})
    branches = [store.create_branch(scenario.id, seed=1).id for _ in range(appenders)]
    calls = max(1, total // (appenders * k))
    payloads = [_events(k, i) for i in range(calls)]
    before = store.stats()
    start = time.perf_counter()
    if mode == "threads":

        def work(branch: str) -> None:
            for events in payloads:
                store.append(branch, events)

        threads = [threading.Thread(target=work, args=(b,)) for b in branches]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:

        async def one(branch: str) -> None:
            for events in payloads:
                await store.append_async(branch, events)

        async def run() -> None:
            await asyncio.gather(*(one(b) for b in branches))

        asyncio.run(run())
    elapsed = time.perf_counter() - start
    after = store.stats()
    commits = after["commits"] - before["commits"]
    requests = after["requests"] - before["requests"]
    events = after["events"] - before["events"]
    return {
        "mode": mode,
        "appenders": appenders,
        "events_per_call": k,
        "events": events,
        "seconds": round(elapsed, 3),
        "events_per_s": round(events / elapsed),
        "calls_per_s": round(requests / elapsed),
        "commits": commits,
        "avg_batch_requests": round(requests / max(commits, 1), 1),
        "avg_batch_events": round(events / max(commits, 1), 1),
    }


def main() -> None:
    args = parse_args(__doc__ or "", db=True)
    total = 40_000 if args.quick else 300_000
    cases = [
        ("threads", 64, 1),
        ("threads", 64, 11),
        ("threads", 256, 11),
        ("asyncio", 256, 1),
        ("asyncio", 256, 5),
        ("asyncio", 256, 11),
        ("asyncio", 1000, 11),
    ]
    if args.quick:
        cases = [("threads", 32, 11), ("asyncio", 128, 1), ("asyncio", 128, 11)]
    results = []
    with bench_store(args) as store:
        backend = backend_name(store)
        scenario = store.create_scenario("bulk", {})
        bulk_branch = store.create_branch(scenario.id, seed=1).id
        before = store.stats()
        rate = build_history(store, bulk_branch, total)
        bulk_commits = store.stats()["commits"] - before["commits"]
        results.append(
            {
                "mode": "bulk",
                "appenders": 1,
                "events_per_call": 10_000,
                "events": total,
                "events_per_s": round(rate),
                "calls_per_s": round(rate / 10_000, 1),
                "commits": bulk_commits,
                "avg_batch_requests": 1.0,
                "avg_batch_events": round(total / max(bulk_commits, 1), 1),
            }
        )
        for mode, appenders, k in cases:
            results.append(_measure(store, mode, appenders, k, total))
    table(
        [
            "mode",
            "appenders",
            "ev/call",
            "events/s",
            "calls/s",
            "commits",
            "req/commit",
            "ev/commit",
        ],
        [
            (
                r["mode"],
                r["appenders"],
                r["events_per_call"],
                r["events_per_s"],
                r["calls_per_s"],
                r["commits"],
                r["avg_batch_requests"],
                r["avg_batch_events"],
            )
            for r in results
        ],
    )
    concurrent = [r for r in results if r["mode"] != "bulk"]
    best = max(r["events_per_s"] for r in concurrent)
    step_rates = [r["events_per_s"] for r in concurrent if r["events_per_call"] == 11]
    print(f"{backend}: target >= {TARGET_EVENTS_PER_S:,} events/s; best concurrent {best:,}")
    emit(
        "append",
        backend=backend,
        quick=args.quick,
        target_events_per_s=TARGET_EVENTS_PER_S,
        best_concurrent_events_per_s=best,
        min_whole_step_events_per_s=min(step_rates) if step_rates else None,
        ok=best >= TARGET_EVENTS_PER_S,
        results=results,
    )


if __name__ == "__main__":
    main()
