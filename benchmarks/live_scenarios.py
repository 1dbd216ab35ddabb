"""1,000 live scenarios in one process: memory per idle scenario and step latency while they
all run (DESIGN §5: < 1 MB per idle 5-agent scenario; 1,000 advancing on one 2-core box).

Each scenario is examples/incident-response.yaml (5 agents, offline rules brain) started as
its own scenario with its own seed and run 2 steps (setup). Then a ``Scheduler`` loads a
``Runner`` for every one — what a server keeps per live scenario — and the RSS growth per
loaded runner is the memory of an idle scenario. Then a quarter stay paused mid-run and the
rest advance ``--steps`` steps at once (``--concurrency`` steps in flight); each step's
latency is timed from when it got its slot to when its events were acknowledged. Prints a
table and one JSON line ``{"bench": "live_scenarios", ...}``.

    .venv/bin/python benchmarks/live_scenarios.py           # 1,000 scenarios
    .venv/bin/python benchmarks/live_scenarios.py --quick   # 100 scenarios
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import ClassVar

from _common import emit, percentiles_ms, table
from aegntix.engine import Runner, start_scenario
from aegntix.engine.runner import StepResult
from aegntix.engine.scheduler import Scheduler
from aegntix.model.loading import load_scenario
from aegntix.timeline import SqlStore, open_sqlite_store

INCIDENT = Path(__file__).resolve().parent.parent / "examples" / "incident-response.yaml"
SETUP_STEPS = 2
TARGET_IDLE_MB = 1.0


def rss_mb() -> float:
    """Resident memory now (not the peak)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class TimedRunner(Runner):
    """A Runner that records how long each of its steps took (inside its scheduler slot)."""

    latencies: ClassVar[list[float]] = []

    async def step(self) -> StepResult | None:
        start = time.perf_counter()
        result = await super().step()
        if result is not None:
            TimedRunner.latencies.append(time.perf_counter() - start)
        return result


def build(store: SqlStore, count: int) -> list[str]:
    scenario = load_scenario(INCIDENT)
    ids = []
    for i in range(count):
        branch = start_scenario(store, scenario, seed=1000 + i)
        asyncio.run(Runner(store, branch.id).run(SETUP_STEPS))
        ids.append(branch.id)
    return ids


async def measure(
    store: SqlStore, ids: list[str], steps: int, concurrency: int
) -> tuple[float, float, int]:
    """(RSS MB per loaded idle runner, seconds for the running ones, steps run)."""
    gc.collect()
    before = rss_mb()
    scheduler = Scheduler(store, concurrency=concurrency)
    runners = {b: TimedRunner(store, b) for b in ids}
    gc.collect()
    per_idle = (rss_mb() - before) / len(ids)
    running = ids[len(ids) // 4 :]  # the first quarter stays paused mid-run
    t0 = time.perf_counter()
    tasks = [scheduler.start(b, steps=steps, runner=runners[b]) for b in running]
    summaries = await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    return per_idle, elapsed, sum(s.steps_run for s in summaries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100 scenarios")
    parser.add_argument("--scenarios", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=5, help="steps each running one advances")
    parser.add_argument("--concurrency", type=int, default=64, help="steps in flight")
    args = parser.parse_args()
    count = 100 if args.quick else args.scenarios
    with tempfile.TemporaryDirectory() as folder:
        store = open_sqlite_store(Path(folder) / "live.db")
        try:
            t0 = time.perf_counter()
            ids = build(store, count)
            build_s = time.perf_counter() - t0
            per_idle, run_s, steps = asyncio.run(measure(store, ids, args.steps, args.concurrency))
        finally:
            store.close()
    latency = percentiles_ms(TimedRunner.latencies)
    figures = {
        "scenarios": count,
        "paused": count // 4,
        "running": count - count // 4,
        "setup_s": round(build_s, 2),
        "idle_mb_per_scenario": round(per_idle, 4),
        "steps_run": steps,
        "steps_per_s": round(steps / run_s, 1),
        "step_p50_ms": latency["p50_ms"],
        "step_p99_ms": latency["p99_ms"],
        "step_max_ms": latency["max_ms"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_1min_after": round(os.getloadavg()[0], 2),
    }
    print(
        f"{count} live incident-response scenarios (5 agents): a quarter paused mid-run, "
        f"the rest advancing {args.steps} steps, {args.concurrency} steps in flight"
    )
    table(["measure", "value"], list(figures.items()))
    emit(
        "live_scenarios",
        quick=args.quick,
        **figures,
        target_idle_mb=TARGET_IDLE_MB,
        ok=per_idle < TARGET_IDLE_MB,
    )


if __name__ == "__main__":
    main()
