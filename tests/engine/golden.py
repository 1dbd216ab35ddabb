"""Golden timelines of the example scenarios: each run a fixed number of steps with its own
seed (offline rules brain), summarised as the head hash after every step and a digest of
every prompt a model-backed brain would have been sent. Recorded before the mechanics were
made pluggable; a refactor must reproduce them exactly (DESIGN invariants 3 and 4: recorded
branches keep verifying, forks of them keep their parents' hashes and reply-cache keys).

Re-record (only when a change is *meant* to alter timelines, and say so in the commit):
``AEGNTIX_RECORD_GOLDEN=1 .venv/bin/pytest -q tests/engine/test_golden.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from aegntix.brains.base import Brain, Decision, Observation
from aegntix.brains.prompting import messages
from aegntix.brains.rules import RulesBrain
from aegntix.engine import Runner, start_scenario
from aegntix.memory.profiles import ProfileStore, load_profile_file
from aegntix.model.loading import load_scenario
from aegntix.model.scenario import AgentSpec, BrainConfig, Scenario
from aegntix.timeline import SqlStore

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FIXTURE = Path(__file__).with_name("golden_hashes.json")
STEPS = 8
FILES = (
    "negotiation.yaml",
    "negotiation-llm.yaml",
    "town-hall.yaml",
    "incident-response.yaml",
    "jury.yaml",
    "persistent/1-van-sale.yaml",
    "persistent/2-second-van.yaml",
)


@dataclass
class _Prompts:
    """Digests of what a model-backed brain would be sent, in decision order."""

    digest: hashlib._Hash = field(default_factory=hashlib.sha256)
    count: int = 0

    def add(self, observation: Observation) -> None:
        body = json.dumps(messages(observation), sort_keys=True, ensure_ascii=False)
        self.digest.update(body.encode())
        self.count += 1


class _Watching:
    """The rules brain, noting each observation's prompt on the way."""

    name = "rules"

    def __init__(self, prompts: _Prompts) -> None:
        self._rules = RulesBrain()
        self._prompts = prompts

    async def decide(self, observation: Observation, rng: random.Random) -> Decision:
        self._prompts.add(observation)
        return self._rules.decide_now(observation, rng)


def _offline(scenario: Scenario) -> Scenario:
    """The scenario with every brain the rules brain (the LLM example runs offline)."""
    agents = [a.model_copy(update={"brain": None}) for a in scenario.agents]
    return scenario.model_copy(update={"brain": BrainConfig(), "agents": agents})


def record(store: SqlStore, name: str, steps: int = STEPS) -> dict[str, object]:
    """Run one example and summarise its timeline."""
    scenario = _offline(load_scenario(EXAMPLES / name))
    if any(a.profile is not None for a in scenario.agents):
        spec = load_profile_file(EXAMPLES / "persistent" / "dana.yaml")
        profiles = ProfileStore(store)
        profiles.create(spec.id, spec.name, spec.persona, spec.description)
    branch = start_scenario(store, scenario)
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
