"""Golden timelines of the swarm scenarios (topologies, many agents): each run a fixed number
of steps with the offline rules brain, summarised as the head hash after every step and a
digest of every prompt a model-backed brain would have been sent (as ``tests/engine/golden.py``
does for the other examples). Recorded before the swarm step was made cheaper
(``benchmarks/swarm.py``): an optimisation must reproduce them exactly.

Re-record (only when a change is *meant* to alter timelines, and say so in the commit):
``AEGNTIX_RECORD_GOLDEN=1 .venv/bin/pytest -q tests/swarm/test_golden.py``.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from aegntix.brains.base import Brain
from aegntix.engine import Runner, start_scenario
from aegntix.model.loading import load_scenario, validate_scenario
from aegntix.model.scenario import AgentSpec, Scenario
from aegntix.timeline import SqlStore

from ..engine.golden import _offline, _Prompts, _Watching

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FIXTURE = Path(__file__).with_name("golden_hashes.json")
STEPS = 6
FILES = (
    "rumour_small_world.yaml",
    "polarization_groups.yaml",
    "council_vote.yaml",
    "crisis_delphi.yaml",
)
# generated swarms: (agents, topology kind) as benchmarks/swarm.py builds them
GENERATED = (("small_world", 100), ("mesh", 40), ("complete", 40), ("scale_free", 60))


def generated(n: int, kind: str, seed: int = 3) -> Scenario:
    """The benchmark's debate (benchmarks/swarm.py ``scenario``): n residents, random
    persona and stance, a memory window of 2 steps."""
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
    if kind == "complete":
        data["topology"] = {"kind": "groups", "groups": {"all": [a["id"] for a in agents]}}
    elif kind == "small_world":
        data["topology"] = {"kind": kind, "k": 6, "p": 0.1}
    elif kind == "scale_free":
        data["topology"] = {"kind": kind, "m": 2}
    return validate_scenario(data)


def record_scenario(store: SqlStore, scenario: Scenario, steps: int = STEPS) -> dict[str, object]:
    """Run ``scenario`` (every brain the rules brain) and summarise its timeline."""
    branch = start_scenario(store, _offline(scenario))
    prompts = _Prompts()

    def brains(_: Scenario, __: AgentSpec) -> Brain:
        return _Watching(prompts)

    runner = Runner(store, branch.id, brains=brains)
    heads: list[str] = []

    async def go() -> None:
        for _ in range(steps):
            if await runner.step() is None:
                break
            heads.append(store.get_branch(branch.id).head_hash)

    asyncio.run(go())
    return {
        "steps": len(heads),
        "head_seq": store.get_branch(branch.id).head_seq,
        "heads": heads,
        "prompts": prompts.count,
        "prompt_digest": prompts.digest.hexdigest(),
    }


def record_file(store: SqlStore, name: str) -> dict[str, object]:
    return record_scenario(store, load_scenario(EXAMPLES / name))
