"""State at a random past step with 1,000,000 events of history (DESIGN §5: < 10 ms).

``state_at`` = newest snapshot at or before the step (the store writes one every 500 events)
plus a fold of the events since. Measured on a root branch with the full history, and on a
fork from its middle that has its own 100,000 events (reads cross the lineage). Prints a
table and one JSON line ``{"bench": "state_at", ...}``.

    .venv/bin/python benchmarks/bench_state_at.py           # 1,000,000 events
    .venv/bin/python benchmarks/bench_state_at.py --quick   # 100,000 events
    .venv/bin/python benchmarks/bench_state_at.py --quick --db postgresql://postgres@127.0.0.1/bench
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
from aegntix.timeline import SqlStore, state_at

TARGET_P99_MS = 10.0


def _sample(
    store: SqlStore, branch: str, lo: int, hi: int, n: int, rng: random.Random
) -> dict[str, float]:
    samples = []
    for _ in range(n):
        step = rng.randint(lo, hi)
        t0 = time.perf_counter()
        state_at(store, branch, step)
        samples.append(time.perf_counter() - t0)
    return percentiles_ms(samples)


def main() -> None:
    args = parse_args(__doc__ or "", db=True)
    size = 100_000 if args.quick else 1_000_000
    own = size // 10
    n = 300 if args.quick else 1000
    rng = random.Random(11)
    with bench_store(args, snapshot_every=500) as store:
        backend = backend_name(store)
        scenario = store.create_scenario("bench", {})
        root = store.create_branch(scenario.id, seed=1).id
        t0 = time.perf_counter()
        rate = build_history(store, root, size)
        head = store.get_branch(root)
        child = store.fork(root, head.head_step // 2)
        # The fork's own events continue the steps after its fork point.
        build_rate_child = build_history(store, child.id, own, first_step=child.fork_step + 1)
        build_s = time.perf_counter() - t0
        settle(store)
        state_at(store, root, 0)  # warm the connection pool
        rows = [
            ("root, any step", _sample(store, root, 0, head.head_step, n, rng)),
            (
                "root, recent 1%",
                _sample(store, root, head.head_step * 99 // 100, head.head_step, n, rng),
            ),
            ("fork, inherited", _sample(store, child.id, 0, child.fork_step, n, rng)),
            (
                "fork, own",
                _sample(
                    store,
                    child.id,
                    child.fork_step + 1,
                    store.get_branch(child.id).head_step,
                    n,
                    rng,
                ),
            ),
        ]
    table(
        ["branch / steps", "reads", "p50 ms", "p99 ms", "max ms", "mean ms"],
        [(name, s["n"], s["p50_ms"], s["p99_ms"], s["max_ms"], s["mean_ms"]) for name, s in rows],
    )
    worst = max(s["p99_ms"] for _, s in rows)
    print(
        f"{backend}: history {size:,} events ({EVENTS_PER_STEP}/step) + fork with {own:,} own; "
        f"built in {build_s:.1f} s ({rate:,.0f} ev/s root, {build_rate_child:,.0f} ev/s fork); "
        f"worst p99 {worst:.3f} ms (target < {TARGET_P99_MS:g} ms)"
    )
    emit(
        "state_at",
        backend=backend,
        quick=args.quick,
        history_events=size,
        fork_own_events=own,
        snapshot_every=500,
        target_p99_ms=TARGET_P99_MS,
        worst_p99_ms=worst,
        ok=worst < TARGET_P99_MS,
        build_seconds=round(build_s, 1),
        results=dict(rows),
    )


if __name__ == "__main__":
    main()
