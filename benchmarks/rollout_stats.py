"""Cost of the statistics of one rollout set (target: < 1 s in total).

A 1,000-member treated set and its 1,000-member control set (same seeds), 3 outcomes × 50
steps: a price (number), a deal flag (yes/no) and a stance (number). For each outcome:
summarize both sets' final values, the paired effect (bootstrap CI, 9,999 resamples, and a
9,999-permutation test), the per-step bands of both sets and the split step. Each run is
repeated and the median time reported. Prints a table and one JSON line
``{"bench": "rollout_stats", ...}``.

    .venv/bin/python benchmarks/rollout_stats.py
    .venv/bin/python benchmarks/rollout_stats.py --quick   # 200 members, 1 repeat
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from _common import emit, parse_args, table
from aegntix.analysis.stats import bands, paired_effect, split_step, summarize

TARGET_S = 1.0
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


def main() -> None:
    args = parse_args(__doc__ or "")
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
    )


if __name__ == "__main__":
    main()
