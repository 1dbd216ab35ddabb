"""Helpers for LLM-brain tests: scenarios pointed at the fake provider, running branches."""

from __future__ import annotations

import asyncio
import random
import socket
from typing import Any

import yaml

from aegntix.brains.base import Decision
from aegntix.brains.registry import BrainContext, brain_for_config
from aegntix.engine import Runner, RunSummary
from aegntix.engine.observation import Window, observe
from aegntix.model.events import Event, EventKind
from aegntix.model.loading import validate_scenario
from aegntix.model.scenario import Scenario
from aegntix.model.state import initial_state
from aegntix.testing import FakeLLM
from aegntix.timeline import SqlStore
from tests.support import EXAMPLES

KEY_ENV = "AEGNTIX_TEST_LLM_KEY"
KEY = "sk-aegntix-test-0123456789abcdef-SECRET"


def llm_scenario(
    fake: FakeLLM | None,
    example: str = "negotiation",
    *,
    steps: int = 3,
    base_url: str | None = None,
    **brain: Any,
) -> Scenario:
    """An example scenario whose agents think with the fake provider (fast retries)."""
    data = yaml.safe_load((EXAMPLES / f"{example}.yaml").read_text())
    kind = brain.pop("kind", "openai")
    if base_url is None:
        assert fake is not None
        base_url = fake.openai_url if kind == "openai" else fake.url
    data["brain"] = {
        "kind": kind,
        "model": "fake-1",
        "base_url": base_url,
        "api_key_env": KEY_ENV,
        "backoff": 0.01,
        "max_retries": 3,
        "timeout": 5,
        "prices": {"input": 0.5, "output": 1.5},
        **brain,
    }
    data["termination"]["max_steps"] = steps
    return validate_scenario(data)


def run(store: Any, branch_id: str, steps: int | None = None) -> RunSummary:
    return asyncio.run(Runner(store, branch_id).run(steps))


def signature(events: list[Event]) -> list[tuple[Any, ...]]:
    return [(e.seq, e.step, e.kind, e.agent_id, e.payload, e.hash, e.prev_hash) for e in events]


def own(store: SqlStore, branch_id: str) -> list[Event]:
    branch = store.get_branch(branch_id)
    return list(store.events(branch_id, from_seq=branch.fork_seq + 1))


def decisions(events: list[Event]) -> list[Event]:
    return [e for e in events if e.kind == EventKind.DECISION]


def decide_once(scenario: Scenario, agent_id: str | None = None, seed: int = 1) -> Decision:
    """One decision of one agent at step 1, outside the engine (memory-only cache)."""
    agent = scenario.agents[0] if agent_id is None else scenario.agent(agent_id)
    state = initial_state(scenario)
    view = observe(scenario, state, agent.id, 1, Window(scenario.memory_window))
    brain = brain_for_config(scenario.brain_for(agent), context=BrainContext(), agent_id=agent.id)
    return asyncio.run(brain.decide(view, random.Random(seed)))


def closed_port() -> int:
    """A loopback port nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
