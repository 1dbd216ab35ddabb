"""Cost of the statistics of one rollout set (target: < 1 s in total).

Two parts. First the statistics alone on constructed data (below). Then
``analysis.study.set_stats`` end to end on a real set: a 1,000-member town-hall set with an
injection and its 1,000-member control (10 steps each, built with every core; 100 + 100 with
``--quick``), timed cold (read from the database and computed), warm (the cache, as a
repeated request), the one-pass read of both sets alone and, for comparison, the old
per-member timeline walks.

A 1,000-member treated set and its 1,000-member control set (same seeds), 3 outcomes × 50
steps: a price (number), a deal flag (yes/no) and a stance (number). For each outcome:
summarize both sets' final values, the paired effect (bootstrap CI, 9,999 resamples, and a
9,999-permutation test), the per-step bands of both sets and the split step. Each run is
repeated and the median time reported. Prints a table and one JSON line
``{"bench": "rollout_stats", ...}``.

    .venv/bin/python benchmarks/rollout_stats.py
    .venv/bin/python benchmarks/rollout_stats.py --quick   # 200 members, 1 repeat
    .venv/bin/python benchmarks/rollout_stats.py --no-real # the constructed part only
"""

from __future__ import annotations

import os

# Single-threaded OpenBLAS, as the CLI and the server run it (aegntix/cli/__init__.py); read
# once when NumPy loads, so before that import.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from _common import emit, table
from aegntix.analysis.produced import read_set
from aegntix.analysis.rollouts import (
    InjectionSpec,
    create_set,
    repository,
    run_sets,
    set_outcomes,
    set_series,
    with_control,
)
from aegntix.analysis.stats import bands, paired_effect, split_step, summarize
from aegntix.analysis.study import set_stats
from aegntix.engine import Runner, start_scenario
from aegntix.model.loading import load_scenario
from aegntix.timeline import open_sqlite_store

TARGET_S = 1.0
TOWN_HALL = Path(__file__).resolve().parent.parent / "examples" / "town-hall.yaml"
STEPS = 50


def _sets(members: int) -> dict[str, tuple[Any, Any]]:
    rng = np.random.default_rng(42)
    walk = np.cumsum(rng.normal(0, 100, (members, STEPS)), axis=1) + 16_000
    stance = np.cumsum(rng.normal(0, 0.05, (members, STEPS)), axis=1)
    shift = np.clip(np.arange(STEPS) - 20, 0, None)
    deal = rng.random((members, STEPS)) < np.linspace(0.1, 0.6, STEPS)
    # the treated futures share each seed's path plus their own noise (so differences vary)
    noise = rng.normal(0, 1, (members, STEPS))
    return {
        "price": ((walk + 15 * shift + 60 * noise).tolist(), walk.tolist()),
        "deal": ((deal | (rng.random((members, STEPS)) < 0.1)).tolist(), deal.tolist()),
        "stance": ((stance + 0.01 * shift + 0.05 * noise).tolist(), stance.tolist()),
    }


def _timed(fn: Callable[[int], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds. CPU time is reported too because the machine is shared:
    wall time under load overstates the cost."""
    wall, cpu = [], []
    for seed in range(repeats):  # a new seed each time: no cached summary is reused
        t0, c0 = time.perf_counter(), time.process_time()
        fn(seed)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def real_set(members: int) -> dict[str, Any]:
    """``set_stats`` on a real town-hall set of ``members`` and its control: cold, warm (the
    cache) and through the old per-member walks (``set_outcomes``/``set_series``)."""
    with tempfile.TemporaryDirectory() as folder:
        store = open_sqlite_store(Path(folder) / "stats.db")
        try:
            root = start_scenario(store, load_scenario(TOWN_HALL))
            asyncio.run(Runner(store, root.id).run(2))
            made = create_set(store, root.id, 2, members, InjectionSpec("The river flooded."))
            assert made.control_id is not None
            t0 = time.perf_counter()
            sets = with_control(repository(store), made.id)
            asyncio.run(run_sets(store, sets, processes=os.cpu_count() or 1))
            build_s = time.perf_counter() - t0
            t0, c0 = time.perf_counter(), time.process_time()
            cold = set_stats(store, made.id)
            cold_s, cold_cpu = time.perf_counter() - t0, time.process_time() - c0
            t0 = time.perf_counter()
            warm = set_stats(store, made.id)
            warm_s = time.perf_counter() - t0
            assert warm == cold
            t0 = time.perf_counter()
            for set_id in (made.id, made.control_id):
                read_set(store, repository(store), set_id)
            read_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            old = [
                (set_outcomes(store, s), set_series(store, s)) for s in (made.id, made.control_id)
            ]
            walks_s = time.perf_counter() - t0
            assert old[0][0] == read_set(store, repository(store), made.id).outcomes
        finally:
            store.close()
    return {
        "real_members": 2 * members,
        "real_build_s": round(build_s, 2),
        "real_cold_s": round(cold_s, 4),
        "real_cold_cpu_s": round(cold_cpu, 4),
        "real_warm_s": round(warm_s, 4),
        "real_read_s": round(read_s, 4),
        "real_old_reads_s": round(walks_s, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--no-real", action="store_true", help="skip the real set")
    args = parser.parse_args()
    members = 200 if args.quick else 1000
    repeats = 1 if args.quick else 3
    sets = _sets(members)
    wall = dict.fromkeys(("summarize", "paired_effect", "bands", "split_step"), 0.0)
    cpu = dict.fromkeys(wall, 0.0)

    def measure(part: str, fn: Callable[[int], object]) -> None:
        w, c = _timed(fn, repeats)
        wall[part] += w
        cpu[part] += c

    for name, (treated, control) in sets.items():
        final_t = [row[-1] for row in treated]
        final_c = [row[-1] for row in control]
        numeric_t = [[float(v) for v in row] for row in treated]
        numeric_c = [[float(v) for v in row] for row in control]
        measure(
            "summarize",
            lambda s, t=final_t, c=final_c: (summarize(t, seed=s), summarize(c, seed=s)),
        )
        # after summarize with the same seed, as a caller would: the set summaries inside the
        # effect come from the cache; the paired bootstrap and permutation test do not
        measure(
            "paired_effect",
            lambda s, t=final_t, c=final_c, n=name: paired_effect(t, c, name=n, seed=s),
        )
        measure("bands", lambda _s, t=numeric_t, c=numeric_c: (bands(t), bands(c)))
        measure("split_step", lambda _s, t=numeric_t, c=numeric_c: split_step(t, c))
    total_wall, total_cpu = sum(wall.values()), sum(cpu.values())
    rows = [[k, round(wall[k], 4), round(cpu[k], 4)] for k in wall]
    rows.append(["total", round(total_wall, 4), round(total_cpu, 4)])
    print(f"{members} members × {len(sets)} outcomes × {STEPS} steps (median of {repeats})")
    table(["part", "wall s", "cpu s"], rows)
    real: dict[str, Any] = {}
    if not args.no_real:
        real = real_set(100 if args.quick else 1000)
        print(f"\nset_stats of a real {real['real_members'] // 2}-member set and its control")
        table(["measure", "value"], list(real.items()))
    emit(
        "rollout_stats",
        members=members,
        outcomes=len(sets),
        steps=STEPS,
        **{f"{k}_s": round(v, 4) for k, v in wall.items()},
        total_s=round(total_wall, 4),
        total_cpu_s=round(total_cpu, 4),
        target_s=TARGET_S,
        ok=total_wall < TARGET_S,
        **real,
        real_ok=real["real_cold_s"] < TARGET_S if real else None,
    )


if __name__ == "__main__":
    main()
