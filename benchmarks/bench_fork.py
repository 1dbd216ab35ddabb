"""Fork cost against history size (DESIGN §5: p99 < 1 ms, flat from 100 to 1,000,000 events).

One SQLite file in a temp dir; one root branch per size, its history built through the normal
writer with big appends; then >= 200 forks at random steps (and some at the head) per size.
Prints a table and one JSON line ``{"bench": "fork", ...}``.

    .venv/bin/python benchmarks/bench_fork.py           # 100, 10k, 100k, 1M events
    .venv/bin/python benchmarks/bench_fork.py --quick   # 100, 10k
    .venv/bin/python benchmarks/bench_fork.py --quick --db postgresql://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import random
import time

from _common import (
    EVENTS_PER_STEP,
    backend_name,
    bench_store,
    build_history,
    emit,
    parse_args,
    percentiles_ms,
    settle,
    table,
)

TARGET_P99_MS = 1.0


def main() -> None:
    args = parse_args(__doc__ or "", db=True)
    sizes = [100, 10_000] if args.quick else [100, 10_000, 100_000, 1_000_000]
    forks = 200 if args.quick else 500
    rng = random.Random(7)
    results = []
    with bench_store(args) as store:
        backend = backend_name(store)
        scenario = store.create_scenario("bench", {})
        for size in sizes:
            root = store.create_branch(scenario.id, seed=1).id
            rate = build_history(store, root, size)
            head_step = store.get_branch(root).head_step
            settle(store)
            for _ in range(20):  # warm-up, not measured
                store.fork(root, rng.randint(0, head_step))
            samples, at_head = [], []
            for i in range(forks):
                at = head_step if i % 10 == 0 else rng.randint(0, head_step)
                t0 = time.perf_counter()
                store.fork(root, at)
                dt = time.perf_counter() - t0
                (at_head if at == head_step else samples).append(dt)
            stats = percentiles_ms(samples + at_head)
            results.append(
                {
                    "history_events": size,
                    "build_events_per_s": round(rate),
                    **stats,
                    "at_head_p50_ms": percentiles_ms(at_head)["p50_ms"],
                }
            )
    table(
        ["history", "forks", "p50 ms", "p99 ms", "max ms", "head p50 ms", "build ev/s"],
        [
            (
                r["history_events"],
                r["n"],
                r["p50_ms"],
                r["p99_ms"],
                r["max_ms"],
                r["at_head_p50_ms"],
                r["build_events_per_s"],
            )
            for r in results
        ],
    )
    worst = max(r["p99_ms"] for r in results)
    flat = round(results[-1]["p99_ms"] / max(results[0]["p99_ms"], 1e-9), 2)
    print(
        f"{backend}, events per step: {EVENTS_PER_STEP}; worst p99 {worst:.3f} ms (target < 1 ms);"
    )
    print(f"p99 at the largest / smallest history: {flat}x")
    emit(
        "fork",
        backend=backend,
        quick=args.quick,
        target_p99_ms=TARGET_P99_MS,
        worst_p99_ms=worst,
        p99_ratio_largest_smallest=flat,
        ok=worst < TARGET_P99_MS,
        results=results,
    )


if __name__ == "__main__":
    main()
