"""A rollout set of the town hall (9 agents, rules brain) from one fork point, with an
injection (so N intervention + N control members): time to fork, time to run, steps/s,
events/s, peak RSS, DB bytes per rollout. One process, one event loop (one core); the
1,000-rollout target of issue 11 (< 90 s on two cores) is for a later, multi-process run.

    python benchmarks/rollouts.py [--quick] [--n N]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from pathlib import Path

from _common import emit, table
from aegntix.analysis.rollouts import (
    InjectionSpec,
    create_set,
    repository,
    run_sets,
    with_control,
)
from aegntix.engine import Runner, start_scenario
from aegntix.model.loading import load_scenario
from aegntix.timeline import open_sqlite_store

TOWN_HALL = Path(__file__).resolve().parent.parent / "examples" / "town-hall.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20 rollouts, for a smoke run")
    parser.add_argument("--n", type=int, default=100, help="members per set (default 100)")
    args = parser.parse_args()
    n = 20 if args.quick else args.n
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "rollouts.db"
        store = open_sqlite_store(db)
        try:
            root = start_scenario(store, load_scenario(TOWN_HALL))
            asyncio.run(Runner(store, root.id).run(2))
            base_events = store.get_branch(root.id).head_seq
            size_before = db.stat().st_size
            t0 = time.perf_counter()
            made = create_set(store, root.id, 2, n, InjectionSpec("The river flooded."))
            t1 = time.perf_counter()
            sets = with_control(repository(store), made.id)
            asyncio.run(run_sets(store, sets))
            t2 = time.perf_counter()
            members = [m for s in sets for m in repository(store).members(s.id)]
            heads = [store.get_branch(m.branch_id) for m in members]
            steps = sum(b.head_step - 2 for b in heads)
            events = sum(b.head_seq - base_events for b in heads)
        finally:
            store.close()
        wal = db.with_name(db.name + "-wal")
        size = db.stat().st_size + (wal.stat().st_size if wal.exists() else 0) - size_before
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    run_s = t2 - t1
    rows = [
        ("members (intervention + control)", len(members)),
        ("fork + inject (s)", round(t1 - t0, 3)),
        ("run to termination (s)", round(run_s, 3)),
        ("steps/s", round(steps / run_s, 1)),
        ("events/s", round(events / run_s, 1)),
        ("peak RSS (MB)", round(rss_mb, 1)),
        ("DB bytes per rollout", size // len(members)),
    ]
    table(["measure", "value"], rows)
    emit(
        "rollouts",
        quick=args.quick,
        members=len(members),
        fork_s=round(t1 - t0, 3),
        run_s=round(run_s, 3),
        steps_per_s=round(steps / run_s, 1),
        events_per_s=round(events / run_s, 1),
        peak_rss_mb=round(rss_mb, 1),
        db_bytes_per_rollout=size // len(members),
    )


if __name__ == "__main__":
    main()
