"""How what an agent saw and did becomes memory entries: the texts, the rules' importance,
the situation a decision recalls for, and where an agent stands (for persona drift, as the
scenario's mechanics say)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aegntix.brains.base import Observation, VisibleEvent
from aegntix.mechanics import DEFAULT, Mechanics, combined
from aegntix.memory.importance import action_importance, observation_importance
from aegntix.memory.records import Memory, MemoryKind
from aegntix.memory.reflection import Standing
from aegntix.model.events import EventKind, NewEvent
from aegntix.model.scenario import AgentSpec
from aegntix.model.state import State

QUERY_CHARS = 400  # of recent events, describing the situation a decision recalls for


def position(
    agent: AgentSpec, own: Mapping[str, Any], mechanics: Mechanics | None = None
) -> float | None:
    """Where an agent stands, in -1..1, as ``agent`` sees it and its scenario's mechanics
    say (the default kinds: a stance; for a buyer or seller an offer within its own range,
    -1 at its aspiration, 1 at its walk-away price)."""
    found = _mechanics(mechanics).position(agent, own)
    return None if found is None else found.value


def valenced(agent: AgentSpec, mechanics: Mechanics | None = None) -> bool:
    """Whether the agent's position is for or against the topic (a stance) rather than
    unsigned (an offer): how persona drift reads what it hears."""
    mechanics = _mechanics(mechanics)
    found = mechanics.position(agent, mechanics.initial_agent(agent))
    return True if found is None else found.valenced


def initial_position(agent: AgentSpec, mechanics: Mechanics | None = None) -> float | None:
    """Where the agent stands at step 0."""
    mechanics = _mechanics(mechanics)
    return position(agent, mechanics.initial_agent(agent), mechanics)


def _mechanics(mechanics: Mechanics | None) -> Mechanics:
    return combined(DEFAULT) if mechanics is None else mechanics


def standings(seen: Iterable[AgentSpec], state: State) -> dict[str, Standing]:
    """Where the agents it sees stand (``seen``: from the run's visibility)."""
    agents = state["agents"]
    return {
        a.id: Standing(
            a.name, agents.get(a.id, {}).get("stance"), agents.get(a.id, {}).get("offer")
        )
        for a in seen
    }


def speakers_of(memories: Iterable[Memory], speakers: Mapping[int, str]) -> dict[str, str]:
    """Who each observation memory came from (``speakers``: event seq -> agent id)."""
    return {
        m.ref: speakers[m.source]
        for m in memories
        if m.source is not None and m.source in speakers and m.kind == MemoryKind.OBSERVATION
    }


def situation(observation: Observation) -> str:
    """What the agent is deciding about, as text: the newest events it saw, its goal."""
    parts: list[str] = []
    used = 0
    for event in reversed(observation.visible):
        if used >= QUERY_CHARS:
            break
        parts.append(event.text)
        used += len(event.text)
    if observation.agent.goals:
        parts.append(observation.agent.goals[0])
    if not parts:
        parts.append(observation.topic or observation.scenario)
    return " ".join(parts)[: QUERY_CHARS + 200]


def _name(observation: Observation, agent_id: str | None) -> str:
    spec = observation.roster.get(agent_id) if agent_id else None
    return spec.name if spec is not None else (agent_id or "someone")


def observed_entry(
    event: VisibleEvent, agent: AgentSpec, observation: Observation
) -> dict[str, Any]:
    if event.kind == "injection":
        text = f"Told privately: {event.text}" if event.private else f"News: {event.text}"
        kind = MemoryKind.INJECTION
    elif event.kind == "action":
        text = (
            f"{_name(observation, event.agent_id)} did {event.fields.get('action')}: {event.text}"
        )
        kind = MemoryKind.OBSERVATION
    else:
        text = f"{_name(observation, event.agent_id)}: {event.text}"
        kind = MemoryKind.OBSERVATION
    text += _mechanics(observation.mechanics).describe(event.fields)
    return {
        "kind": kind.value,
        "text": text,
        "importance": observation_importance(event, agent.id, agent.name),
        "source": event.seq,
        "scored_by": "rules",
    }


def acted_entry(seq: int, event: NewEvent) -> dict[str, Any]:
    """The memory entry for what the agent itself said or did."""
    text = str(event.payload.get("text", ""))
    fields = dict(event.payload.get("fields") or {})
    if event.kind == EventKind.ACTION:
        said = f"I did {event.payload.get('action')}" + (f": {text}" if text else "")
    else:
        said = f"I said: {text}"
    return {
        "kind": MemoryKind.ACTION.value,
        "text": said,
        "importance": action_importance(event.kind, text, fields),
        "source": seq,
        "scored_by": "rules",
    }


def as_memories(
    entries: Sequence[Mapping[str, Any]], seq: int, agent_id: str, time: float, step: int
) -> list[Memory]:
    return [
        Memory(
            f"{seq}.{i}",
            agent_id,
            str(e["kind"]),
            str(e["text"]),
            float(e["importance"]),
            time,
            step,
            e.get("source"),
            tuple(e.get("cites", ())),
            str(e.get("scored_by", "rules")),
        )
        for i, e in enumerate(entries)
    ]
