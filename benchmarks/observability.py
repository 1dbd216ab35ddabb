"""What operations cost: a model call's shared-limit gate on PostgreSQL (vs in-process), and
one metric update.

1. **Gate**: entering and leaving a provider's limits with no contention and no rate wait —
   on PostgreSQL one statement takes a slot and reserves a start (the release goes to a
   background thread), in-process a semaphore and a token bucket. Added to each model call,
   which itself takes hundreds of ms. Also with 8 callers at once on concurrency 8.
2. **Metric update**: the one-line hooks the runner, the writer and the brain call
   (``step_done``, ``committed``, ``llm_attempt``), in µs per call.

    .venv/bin/python benchmarks/observability.py            # 2,000 gate entries
    .venv/bin/python benchmarks/observability.py --quick    # 300
    .venv/bin/python benchmarks/observability.py --pg postgresql://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Callable

from _backends_pg import scratch_database
from _common import emit, percentiles_ms, table
from aegntix.brains.limits import LOCAL, Gate, Limits
from aegntix.brains.shared_limits import SqlLimits
from aegntix.observability import metrics
from aegntix.timeline import open_store

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


async def _entries(gate: Gate, count: int, callers: int) -> list[float]:
    samples: list[float] = []

    async def caller(n: int) -> None:
        for _ in range(n):
            started = time.perf_counter()
            async with gate.hold():
                samples.append(time.perf_counter() - started)

    await asyncio.gather(*(caller(count // callers) for _ in range(callers)))
    return samples


def _per_call_us(fn: Callable[[], None], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--pg", default=os.environ.get("AEGNTIX_BENCH_PG", DEFAULT_PG))
    args = parser.parse_args()
    count = 300 if args.quick else 2_000
    limits = Limits(concurrency=8)
    rows = []
    result: dict[str, object] = {}
    with scratch_database(args.pg, None) as url:
        store = open_store(url)
        shared = SqlLimits(store.engine)
        try:
            for callers in (1, 8):
                for name, backend in (("in-process", LOCAL), ("PostgreSQL", shared)):
                    gate = backend.gate(f"bench-{callers}", limits)
                    asyncio.run(_entries(gate, 50, callers))  # warm the pool
                    gate = backend.gate(f"bench-{callers}", limits)
                    got = percentiles_ms(asyncio.run(_entries(gate, count, callers)))
                    rows.append([name, callers, got["p50_ms"], got["p99_ms"], got["n"]])
                    result[f"gate_{name.lower()}_{callers}"] = got
        finally:
            shared.close()
            store.close()
    print("A model call's limits: time to enter the gate (no contention, no rate wait)")
    table(["limits", "callers", "p50 ms", "p99 ms", "n"], rows)

    calls = 20_000 if args.quick else 200_000
    hooks: dict[str, Callable[[], None]] = {
        "step_done": lambda: metrics.step_done(0.01),
        "committed": lambda: metrics.committed(11),
        "llm_attempt": lambda: metrics.llm_attempt("openai", "ok", 0.2),
    }
    costs = {name: round(_per_call_us(fn, calls), 3) for name, fn in hooks.items()}
    print("\nOne metric update (µs per call)")
    table(["hook", "µs"], [[name, cost] for name, cost in costs.items()])
    emit("observability", gate=result, metric_update_us=costs)


if __name__ == "__main__":
    main()
