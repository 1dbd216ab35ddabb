"""``GET /v1/branches/{id}/hearings`` behind the network view: who heard what at one step of
an N-agent small-world swarm (rules brain), read from the timeline by ``step_hearings``.

Figures, per size (1,000 agents is the size the network view is measured at):

- **fresh**: the first read of a step — the timeline folded up to it (``uncached``: the
  same read with the cache bypassed, what every read cost before the cache).
- **cached**: the same step read again (a client polling, a second viewer): the branch
  row, one index probe for the step's last seq, and the answer from memory.
- **after append**: a middle step read again once more steps were appended (its answer
  stands: still served from the cache), and the new head step (computed afresh).

    .venv/bin/python benchmarks/hearings.py            # 250, 1000 agents
    .venv/bin/python benchmarks/hearings.py --quick    # 100
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit, parse_args, table
from aegntix.engine import Runner, start_scenario
from aegntix.swarm import hearings
from aegntix.swarm.hearings import step_hearings
from aegntix.timeline import open_sqlite_store
from swarm import scenario

STEPS = 6  # run before measuring; then 2 more


def _ms(fn: Any, repeat: int) -> float:
    """Median wall time of ``repeat`` calls, in ms."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def measure(n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_sqlite_store(Path(tmp) / "hearings.db")
        try:
            branch = start_scenario(store, scenario(n, "small_world")).id
            asyncio.run(Runner(store, branch).run(STEPS))
            mid, head = STEPS // 2, STEPS

            def uncached() -> None:
                hearings._caches.clear()  # every read folds the timeline, as before the cache
                step_hearings(store, branch, head)

            before = _ms(uncached, 3)
            hearings._caches.clear()
            fresh = _ms(lambda: step_hearings(store, branch, head), 1)
            cached = _ms(lambda: step_hearings(store, branch, head), 20)
            step_hearings(store, branch, mid)
            asyncio.run(Runner(store, branch).run(2))
            mid_after = _ms(lambda: step_hearings(store, branch, mid), 20)
            new_head = _ms(lambda: step_hearings(store, branch, head + 2), 1)
            events = store.get_branch(branch).head_seq
        finally:
            store.close()
    return {
        "agents": n,
        "events": events,
        "uncached_ms": round(before, 2),
        "fresh_ms": round(fresh, 2),
        "cached_ms": round(cached, 3),
        "mid_after_append_ms": round(mid_after, 3),
        "new_head_ms": round(new_head, 2),
    }


def main() -> None:
    args = parse_args(__doc__.split("\n")[0])
    sizes = [100] if args.quick else [250, 1000]
    rows = [measure(n) for n in sizes]
    print(f"step_hearings on a small world after {STEPS} steps (median wall ms)")
    table(
        ["agents", "events", "uncached", "fresh", "cached", "mid after append", "new head"],
        [
            [
                r["agents"],
                r["events"],
                r["uncached_ms"],
                r["fresh_ms"],
                r["cached_ms"],
                r["mid_after_append_ms"],
                r["new_head_ms"],
            ]
            for r in rows
        ],
    )
    emit("hearings", rows=rows, steps=STEPS)


if __name__ == "__main__":
    main()
