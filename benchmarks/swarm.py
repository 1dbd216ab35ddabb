"""Swarm steps: one step of an N-agent small-world debate (rules brain), and the same
scenario as a mesh, to see what visibility costs and what it saves.

Figures, per size (1,000 agents is the target size):

- **step** (wall) and **cpu** (the process's CPU time over the step, every thread): one
  whole step through the ``Runner`` — every agent observes, decides, its
  decision becomes events, and the step is appended to SQLite in one write. Target at 1,000
  agents on a small world: < 200 ms, growing with agents × degree, not agents². On a
  shared machine the CPU time is the steadier figure (other work stretches the wall time).
- **decision**: one agent's ``decide()`` of the rules brain (inside those steps).
- **observe**: building one agent's observation through the run's ``Visibility``.
- **memory/agent**: what a running ``Runner`` holds per agent (tracemalloc, a separate
  pass: state, window, visibility, brains).

The mesh is today's behaviour (everyone hears everyone): each agent reads every message of
the window, so its cost grows with agents². It is measured up to ``--mesh-max`` agents.
``complete`` is the same everyone-hears-everyone as an explicit graph (one group of all),
run through the filtering path instead of the mesh's: the difference to ``mesh`` at the
smallest size is what visibility filtering itself costs.

    .venv/bin/python benchmarks/swarm.py            # 250, 500, 1000 agents
    .venv/bin/python benchmarks/swarm.py --quick    # 100, 200
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from _common import emit, table
from aegntix.brains.base import Brain, Decision, Observation
from aegntix.brains.rules import RulesBrain
from aegntix.engine import Runner, start_scenario
from aegntix.engine.observation import observe
from aegntix.model.loading import validate_scenario
from aegntix.model.scenario import AgentSpec, Scenario
from aegntix.timeline import open_sqlite_store

TARGET_STEP_MS = 200.0
DEGREE = 6


def scenario(n: int, kind: str, seed: int = 3) -> Scenario:
    rng = random.Random(seed)
    agents = [
        {
            "id": f"p{i}",
            "name": f"Person {i}",
            "role": "resident",
            "persona": {
                "openness": round(rng.uniform(0.2, 0.9), 2),
                "extraversion": round(rng.uniform(0.2, 0.9), 2),
            },
            "stance": round(rng.uniform(-1, 1), 3),
        }
        for i in range(n)
    ]
    data: dict[str, Any] = {
        "name": f"swarm {n}",
        "topic": "the new bridge",
        "agents": agents,
        "memory_window": 2,
        "termination": {"max_steps": 1000},
        "outcomes": {"mean": "mean_stance", "spread": "stance_spread"},
    }
    if kind == "complete":  # everyone hears everyone, through the filtering path
        data["topology"] = {"kind": "groups", "groups": {"all": [a["id"] for a in agents]}}
    elif kind != "mesh":
        data["topology"] = {"kind": kind, "k": DEGREE, "p": 0.1}
    return validate_scenario(data)


class Timed:
    """The rules brain, timing each decision (and each observation's build before it)."""

    name = "rules"

    def __init__(self, inner: Brain, decisions: list[float]) -> None:
        self.inner = inner
        self.decisions = decisions

    async def decide(self, observation: Observation, rng: random.Random) -> Decision:
        t = time.perf_counter()
        decision = await self.inner.decide(observation, rng)
        self.decisions.append(time.perf_counter() - t)
        return decision


async def _steps(
    runner: Runner, steps: int, decisions: list[float]
) -> tuple[list[float], list[float]]:
    """Steps in one event loop, as a run takes them; the first (warm-up) is not counted.
    Each step's wall time, and its CPU time (this process, every thread: the writer's too),
    which other work on a shared machine inflates far less than the wall time."""
    await runner.step()
    decisions.clear()
    times, cpu = [], []
    for _ in range(steps):
        gc.collect()
        c = time.process_time()
        t = time.perf_counter()
        await runner.step()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return times, cpu


def measure(n: int, kind: str, steps: int) -> dict[str, Any]:
    spec = scenario(n, kind)
    decisions: list[float] = []

    def factory(_s: Scenario, _a: AgentSpec) -> Brain:
        return Timed(RulesBrain(0.0), decisions)

    with tempfile.TemporaryDirectory() as tmp:
        store = open_sqlite_store(Path(tmp) / "swarm.db")
        try:
            branch = start_scenario(store, spec)
            runner = Runner(store, branch.id, brains=factory)
            times, cpu = asyncio.run(_steps(runner, steps, decisions))
            events = runner.head_seq
            # every agent's observation of the next step, as the runner would build it
            step = runner.completed_step + 1
            runner.window.advance(step)
            t = time.perf_counter()
            for a in spec.agents:
                observe(spec, runner.state, a.id, step, runner.window)
            observe_s = (time.perf_counter() - t) / n
        finally:
            store.close()
    return {
        "agents": n,
        "topology": kind,
        "degree": round(2 * len(runner.visibility.topology.edges) / n, 2)
        if kind != "mesh"
        else n - 1,
        "step_ms": round(statistics.median(times) * 1000, 2),
        "step_cpu_ms": round(statistics.median(cpu) * 1000, 2),
        "decision_us": round(statistics.fmean(decisions) * 1e6, 1),
        "observe_us": round(observe_s * 1e6, 1),
        "events": events,
    }


def memory_per_agent(n: int, kind: str) -> float:
    """Bytes a runner holds per agent after three steps (tracemalloc; not timed)."""
    spec = scenario(n, kind)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_sqlite_store(Path(tmp) / "mem.db")
        try:
            branch = start_scenario(store, spec)
            gc.collect()
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            runner = Runner(store, branch.id)
            asyncio.run(_steps(runner, 2, []))
            gc.collect()
            held = tracemalloc.get_traced_memory()[0] - before
            tracemalloc.stop()
            del runner
        finally:
            store.close()
    return held / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--steps", type=int, default=3, help="measured steps per size")
    parser.add_argument("--mesh-max", type=int, default=1000, help="largest mesh measured")
    args = parser.parse_args()
    sizes = [100, 200] if args.quick else [250, 500, 1000]
    rows: list[dict[str, Any]] = []
    for n in sizes:
        rows.append(measure(n, "small_world", args.steps))
        if n <= args.mesh_max:
            rows.append(measure(n, "mesh", 1 if n > 500 else args.steps))
        if n == sizes[0]:  # the filtering's own cost: a mesh's edges, not the mesh fast path
            rows.append(measure(n, "complete", args.steps))
    big = sizes[-1]
    mem = {kind: memory_per_agent(big, kind) for kind in ("small_world", "mesh")}
    print(f"one step, rules brain, small world k={DEGREE} p=0.1 vs mesh (median of steps)")
    table(
        [
            "agents",
            "topology",
            "degree",
            "step ms",
            "cpu ms",
            "decision µs",
            "observe µs",
            "events",
        ],
        [
            [
                r["agents"],
                r["topology"],
                r["degree"],
                r["step_ms"],
                r["step_cpu_ms"],
                r["decision_us"],
                r["observe_us"],
                r["events"],
            ]
            for r in rows
        ],
    )
    print(
        f"memory per agent at {big}: small world {mem['small_world'] / 1024:.1f} KiB, "
        f"mesh {mem['mesh'] / 1024:.1f} KiB"
    )
    world = next(r for r in rows if r["agents"] == big and r["topology"] == "small_world")
    verdict = "met" if world["step_ms"] < TARGET_STEP_MS else "NOT met"
    print(
        f"target: a {big}-agent small-world step < {TARGET_STEP_MS:.0f} ms: {verdict} "
        f"(wall {world['step_ms']:.0f} ms, cpu {world['step_cpu_ms']:.0f} ms; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    emit(
        "swarm",
        rows=rows,
        memory_per_agent_bytes={k: round(v) for k, v in mem.items()},
        target_step_ms=TARGET_STEP_MS,
    )


if __name__ == "__main__":
    main()
