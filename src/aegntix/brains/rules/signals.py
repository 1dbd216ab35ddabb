"""What the rules brain reads from an observation: numbers, injections, sides, the last
thing said. Small pure helpers shared by the behaviour modules."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from aegntix.brains.base import Observation, VisibleEvent
from aegntix.brains.rules.lexicon import tokens

INJECTION = "injection"
MESSAGE = "message"
ACTION = "action"


def number(value: Any) -> float | None:
    """``value`` as a finite float, or None (bools, strings, NaN and inf are not numbers)."""
    if type(value) is float:  # the common case, first (this runs per heard stance)
        return value if math.isfinite(value) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


def injections(observation: Observation) -> Iterator[VisibleEvent]:
    """Injections this agent saw (the engine already dropped those aimed at others)."""
    return (e for e in observation.visible if e.kind == INJECTION)


def recency(observation: Observation, event: VisibleEvent, half_life: float = 1.0) -> float:
    """1 for an event of the step being decided, halving every ``half_life`` steps before."""
    age = max(0, observation.step - event.step)
    return 1.0 if age == 0 else 0.5 ** (age / half_life)


def name_of(observation: Observation, agent_id: str | None) -> str:
    spec = observation.roster.get(agent_id) if agent_id else None
    return spec.name if spec is not None else (agent_id or "")


def side_of(observation: Observation, agent_id: str) -> str | None:
    spec = observation.roster.get(agent_id)
    return spec.negotiation.side if spec is not None and spec.negotiation else None


@dataclass(frozen=True, slots=True)
class Heard:
    """The latest thing said or done in front of the agent by someone else."""

    speaker_id: str | None  # None: an injection (news, a briefing)
    speaker: str  # display name, "" for an injection
    text: str
    kind: str
    step: int
    fields: Any


def last_heard(observation: Observation) -> Heard | None:
    """The newest visible event not made by this agent that has words in it; one addressed
    to the agent wins over a newer one addressed to everyone within the same step."""
    me = observation.agent.id
    best: VisibleEvent | None = None
    for event in reversed(observation.visible):
        if event.agent_id == me or not event.text.strip():
            continue
        if best is not None and event.step != best.step:
            break
        if best is None:
            best = event
        if event.to is not None and me in event.to:
            best = event
            break
    if best is None:
        return None
    return Heard(
        best.agent_id,
        name_of(observation, best.agent_id),
        best.text,
        best.kind,
        best.step,
        best.fields,
    )


@lru_cache(maxsize=4096)
def _called(name: str, agent_id: str) -> str:
    """The word others call an agent by: its first name, lower-cased (else its id)."""
    words = name.split()
    return words[0].lower() if words else agent_id.lower()


def addressed_to_me(observation: Observation) -> bool:
    """Someone spoke to this agent (by ``to`` or by name) during the last step seen."""
    me = observation.agent
    first_name = _called(me.name, me.id)
    for event in reversed(observation.visible):
        if event.step < observation.step - 1:
            break
        if event.agent_id == me.id:
            continue
        if (event.to is not None and me.id in event.to) or first_name in tokens(event.text):
            return True
    return False


def taken_actions(observation: Observation) -> set[str]:
    """Actions someone took within the window (from visible ``action`` events)."""
    taken: set[str] = set()
    for event in observation.visible:
        if event.kind == ACTION:
            name = event.fields.get("action")
            if isinstance(name, str):
                taken.add(name)
    return taken
