"""Rollout sets of the town hall (9 agents, offline rules brain, SQLite WAL) from one fork
point: an intervention set (an injection) and its control with the same seeds, together
``--rollouts`` members (half each). Reports time to fork, wall time to run every member,
steps/s, events/s, peak RSS (this process and the largest worker) and DB bytes per rollout.

The scenario is examples/town-hall.yaml with its end condition lifted to ``--steps`` steps
after the fork point (the example ends at step 12), built here, so every member runs exactly
``--steps`` steps. ``--processes`` splits the members across that many worker processes
(default: every core; 1 runs them in this process as before).

    .venv/bin/python benchmarks/rollouts.py                # 1,000 rollouts x 50 steps
    .venv/bin/python benchmarks/rollouts.py --quick        # 40 rollouts x 10 steps
    .venv/bin/python benchmarks/rollouts.py --rollouts 200 --steps 20 --processes 1
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import tempfile
import time
from pathlib import Path

from _common import emit, table
from aegntix.analysis.rollouts import (
    DEFAULT_CONCURRENCY,
    InjectionSpec,
    create_set,
    repository,
    run_sets,
    with_control,
)
from aegntix.engine import Runner, start_scenario
from aegntix.model.loading import load_scenario
from aegntix.model.scenario import Scenario, Termination
from aegntix.timeline import open_sqlite_store

TOWN_HALL = Path(__file__).resolve().parent.parent / "examples" / "town-hall.yaml"
FORK_STEP = 2
TARGET_S = 90.0  # 1,000 rollouts x 50 steps on 2 cores (DESIGN §5)


def town_hall(last_step: int) -> Scenario:
    """The town hall ending at ``last_step`` instead of its own max_steps."""
    scenario = load_scenario(TOWN_HALL)
    return scenario.model_copy(update={"termination": Termination(max_steps=last_step)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="40 rollouts x 10 steps")
    parser.add_argument("--rollouts", type=int, default=1000, help="members in all (even)")
    parser.add_argument("--steps", type=int, default=50, help="steps each member runs")
    parser.add_argument(
        "--processes", type=int, default=os.cpu_count() or 1, help="worker processes"
    )
    parser.add_argument(
        "--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="steps in flight per process"
    )
    args = parser.parse_args()
    rollouts, steps_each = (40, 10) if args.quick else (args.rollouts, args.steps)
    per_set = max(1, rollouts // 2)
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "rollouts.db"
        store = open_sqlite_store(db)
        try:
            root = start_scenario(store, town_hall(FORK_STEP + steps_each))
            asyncio.run(Runner(store, root.id).run(FORK_STEP))
            base_events = store.get_branch(root.id).head_seq
            size_before = db.stat().st_size
            t0 = time.perf_counter()
            made = create_set(
                store, root.id, FORK_STEP, per_set, InjectionSpec("The river flooded.")
            )
            t1 = time.perf_counter()
            sets = with_control(repository(store), made.id)
            asyncio.run(
                run_sets(store, sets, processes=args.processes, concurrency=args.concurrency)
            )
            t2 = time.perf_counter()
            members = [m for s in sets for m in repository(store).members(s.id)]
            heads = [store.get_branch(m.branch_id) for m in members]
            steps = sum(b.head_step - FORK_STEP for b in heads)
            events = sum(b.head_seq - base_events for b in heads)
        finally:
            store.close()
        wal = db.with_name(db.name + "-wal")
        size = db.stat().st_size + (wal.stat().st_size if wal.exists() else 0) - size_before
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    run_s = t2 - t1
    load = os.getloadavg()[0]
    figures = {
        "rollouts": len(members),
        "steps_each": steps_each,
        "processes": args.processes,
        "fork_s": round(t1 - t0, 3),
        "run_s": round(run_s, 3),
        "steps_per_s": round(steps / run_s, 1),
        "events_per_s": round(events / run_s, 1),
        "peak_rss_mb": round(rss_mb, 1),
        "worker_peak_rss_mb": round(worker_mb, 1),
        "db_bytes_per_rollout": size // len(members),
        "load_1min_after": round(load, 2),
    }
    print(
        f"{len(members)} rollouts (intervention + control) x {steps_each} steps of the town "
        f"hall from step {FORK_STEP}, {args.processes} process(es)"
    )
    table(["measure", "value"], list(figures.items()))
    emit(
        "rollouts",
        quick=args.quick,
        **figures,
        steps_total=steps,
        target_s=TARGET_S,
        ok=run_s < TARGET_S if (rollouts, steps_each) == (1000, 50) else None,
    )


if __name__ == "__main__":
    main()
