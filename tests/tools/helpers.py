"""Scenarios and brains for the tools tests: servers started from ``tests/tools/servers``."""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from aegntix.brains.base import Decision, Observation
from aegntix.model.scenario import AgentSpec, Scenario

SERVERS = Path(__file__).parent / "servers"
REPO = Path(__file__).parents[2]


def stdio(script: str, *args: str, **extra: Any) -> dict[str, Any]:
    """A ``tools.servers`` entry starting ``servers/<script>`` with this interpreter."""
    return {"command": sys.executable, "args": [str(SERVERS / script), *args], **extra}


def scenario(
    servers: Mapping[str, Mapping[str, Any]],
    agents: list[dict[str, Any]] | None = None,
    *,
    steps: int = 2,
    **more: Any,
) -> Scenario:
    """A small scenario declaring ``servers`` (agents: one ``a`` unless given)."""
    tools = {"servers": dict(servers), **more.pop("tools", {})}
    return Scenario.model_validate(
        {
            "name": "tools test",
            "world": more.pop("world", {"n": 0}),
            "agents": agents or [{"id": "a", "name": "A", "role": "caller"}],
            "tools": tools,
            "termination": {"max_steps": steps},
            **more,
        }
    )


#: (name, arguments) a scripted brain calls at a step, for an agent.
Script = Callable[[str, int], list[tuple[str, dict[str, Any]]]]


class CallingBrain:
    """Calls the tools its script names through ``Observation.tools`` (as an LLM brain
    would), then says what came back."""

    name = "calling"

    def __init__(self, script: Script) -> None:
        self.script = script
        self.seen: list[Any] = []

    async def decide(self, observation: Observation, rng: random.Random) -> Decision:
        tools = observation.tools
        assert tools is not None
        said = []
        for name, arguments in self.script(observation.agent.id, observation.step):
            outcome = await tools.call(name, arguments)
            self.seen.append(outcome)
            said.append(f"{name}: {outcome.error or 'ok'}")
        return Decision(action="say", content="; ".join(said) or "nothing")


def brains(brain: CallingBrain) -> Callable[[Scenario, AgentSpec], CallingBrain]:
    return lambda scenario, agent: brain


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []
