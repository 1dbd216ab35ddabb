"""Emergence metrics: what reading a branch's metrics costs (``aegntix metrics``,
``GET /v1/branches/{id}/metrics``), per step of the timeline, for N-agent small-world and
mesh debates (rules brain) recorded on SQLite; and what reading who heard what at the head
step costs (``GET /v1/branches/{id}/hearings``, the network view: the same walk, stopping at
the step asked).

The walk folds every event once and resolves each message's hearers through the recorded
topology: small world, cost ~ events × degree; mesh, every message reaches everyone, so
cost ~ agents² per step (as the run itself). Also: the stance statistics alone
(polarization, bimodality, clusters) over N stances.

    .venv/bin/python benchmarks/metrics.py            # 250, 1000 agents, 5 steps
    .venv/bin/python benchmarks/metrics.py --quick    # 100 agents
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit, table
from aegntix.engine import Runner, start_scenario
from aegntix.swarm.hearings import step_hearings
from aegntix.swarm.metrics import branch_metrics
from aegntix.swarm.stance_stats import stance_names
from aegntix.timeline import open_sqlite_store
from swarm import scenario


def measure(n: int, kind: str, steps: int, repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        store = open_sqlite_store(Path(folder) / "m.db")
        try:
            branch = start_scenario(store, scenario(n, kind))
            asyncio.run(Runner(store, branch.id).run(steps))
            events = store.get_branch(branch.id).head_seq
            times = []
            for _ in range(repeats):
                t = time.perf_counter()
                found = branch_metrics(store, branch.id)
                times.append(time.perf_counter() - t)
            heard = []
            for _ in range(repeats):
                t = time.perf_counter()
                step_hearings(store, branch.id)
                heard.append(time.perf_counter() - t)
        finally:
            store.close()
    best = min(times)
    return {
        "agents": n,
        "topology": kind,
        "steps": steps,
        "events": events,
        "heard": sum(s.heard for s in found.steps),
        "read_ms": round(best * 1000, 1),
        "per_step_ms": round(best * 1000 / steps, 2),
        "median_ms": round(statistics.median(times) * 1000, 1),
        "hearings_ms": round(min(heard) * 1000, 1),
    }


def stats_us(n: int) -> float:
    rng = random.Random(1)
    xs = [rng.uniform(-1, 1) for _ in range(n)]
    t = time.perf_counter()
    for _ in range(20):
        stance_names(xs)
    return round((time.perf_counter() - t) / 20 * 1e6, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--steps", type=int, default=5, help="recorded steps per branch")
    parser.add_argument("--repeats", type=int, default=3, help="reads per branch (best kept)")
    args = parser.parse_args()
    sizes = [100] if args.quick else [250, 1000]
    rows = []
    for n in sizes:
        rows.append(measure(n, "small_world", args.steps, args.repeats))
        if n <= 250:
            rows.append(measure(n, "mesh", args.steps, args.repeats))
    print("reading a branch's emergence metrics from its timeline (best of repeats)")
    table(
        [
            "agents",
            "topology",
            "steps",
            "events",
            "heard",
            "read ms",
            "per step ms",
            "median ms",
            "hearings ms",
        ],
        [[r[k] for k in r] for r in rows],
    )
    stats = {n: stats_us(n) for n in (50, 1000)}
    print(
        "stance statistics alone: " + ", ".join(f"{n} stances {us} µs" for n, us in stats.items())
    )
    emit("metrics", rows=rows, stance_stats_us=stats)


if __name__ == "__main__":
    main()
