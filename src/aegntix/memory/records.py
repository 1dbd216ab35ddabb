"""What a memory is, and how memories are written into (and read back from) a timeline.

Memories are part of the event-sourced state (invariant 5): the engine writes one ``memory``
event per agent per step it decided in, holding what the agent formed that step (its
observations, its own action, any reflection), which memories it recalled for the decision
and, after a reflection, how its persona adapted. A memory's ``ref`` is ``"<seq>.<i>"`` (the
event's logical seq and the index in it), the same in a branch and in every fork that inherits
it; a persistent agent's committed memories are ``"p<version>.<ord>"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aegntix.model.events import Event, EventKind
from aegntix.model.scenario import AgentSpec


class MemoryKind(StrEnum):
    OBSERVATION = "observation"  # something the agent saw another agent say or do
    INJECTION = "injection"  # news or a private message from outside
    ACTION = "action"  # what the agent itself said or did
    REFLECTION = "reflection"  # an insight distilled from other memories


class Tier(StrEnum):
    WORKING = "working"  # recalled for the decision at hand
    SHORT_TERM = "short-term"  # the last N memories of this scenario: recallable
    EPISODIC = "episodic"  # everything this scenario formed (older ones: timeline only)
    SEMANTIC = "semantic"  # reflections: distilled facts and beliefs
    LONG_TERM = "long-term"  # committed from earlier scenarios (the persistent agent)


@dataclass(frozen=True, slots=True)
class Memory:
    ref: str
    agent_id: str
    kind: str
    text: str
    importance: float  # 1..10
    time: float  # steps the agent had lived when it formed (profile offset + step)
    step: int | None  # the step in this scenario; None for a committed (profile) memory
    source: int | None = None  # seq of the event it came from
    cites: tuple[str, ...] = ()
    scored_by: str = "rules"  # who judged the importance: "rules" or "brain"
    origin: str | None = None  # committed memories: "<scenario_id>/<branch_id>"

    @property
    def tier(self) -> Tier:
        if self.step is None:
            return Tier.LONG_TERM
        return Tier.SEMANTIC if self.kind == MemoryKind.REFLECTION else Tier.EPISODIC

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ref": self.ref,
            "kind": self.kind,
            "tier": self.tier.value,
            "text": self.text,
            "importance": self.importance,
            "time": self.time,
            "step": self.step,
            "source": self.source,
            "cites": list(self.cites),
            "scored_by": self.scored_by,
        }
        if self.origin is not None:
            out["origin"] = self.origin
        return out


@dataclass(frozen=True, slots=True)
class Recall:
    """One recalled memory and why: its score and the score's three parts."""

    ref: str
    score: float
    recency: float
    importance: float
    relevance: float

    def as_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "score": self.score,
            "recency": self.recency,
            "importance": self.importance,
            "relevance": self.relevance,
        }


@dataclass(slots=True)
class StepMemory:
    """The payload of one agent's ``memory`` event for one step."""

    formed: list[dict[str, Any]] = field(default_factory=list)
    recalled: list[Recall] = field(default_factory=list)
    seen_to: int = 0  # the newest seq the agent has turned into memories
    adaptation: dict[str, Any] | None = None
    reflected: dict[str, Any] | None = None  # {"step", "stance"} when it reflected

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "formed": self.formed,
            "recalled": [r.as_json() for r in self.recalled],
            "seen_to": self.seen_to,
        }
        if self.adaptation is not None:
            out["adaptation"] = self.adaptation
        if self.reflected is not None:
            out["reflected"] = self.reflected
        return out


def formed_memories(event: Event | Any, offset: float = 0.0) -> list[Memory]:
    """The memories a ``memory`` event formed (``offset``: the agent's lived steps before
    this scenario, so ``time`` continues a persistent agent's life)."""
    out: list[Memory] = []
    for i, entry in enumerate(event.payload.get("formed", ())):
        out.append(
            Memory(
                ref=f"{event.seq}.{i}",
                agent_id=event.agent_id or "",
                kind=str(entry["kind"]),
                text=str(entry["text"]),
                importance=float(entry["importance"]),
                time=offset + event.step,
                step=event.step,
                source=entry.get("source"),
                cites=tuple(entry.get("cites", ())),
                scored_by=str(entry.get("scored_by", "rules")),
            )
        )
    return out


def memory_events(events: Iterable[Event], agent_id: str | None = None) -> Iterator[Event]:
    """The ``memory`` events among ``events`` (of one agent, if given)."""
    for event in events:
        if event.kind == EventKind.MEMORY and (agent_id is None or event.agent_id == agent_id):
            yield event


def recalled_for(event: Event | Any) -> list[Recall]:
    return [
        Recall(r["ref"], r["score"], r["recency"], r["importance"], r["relevance"])
        for r in event.payload.get("recalled", ())
    ]


def lived_offset(agent: AgentSpec) -> float:
    """Steps a persistent agent had lived before this scenario (0 for any other agent): its
    memories' ``time`` continues from there."""
    return float(agent.profile.lived_steps or 0) if agent.profile is not None else 0.0


def amount(value: float) -> str:
    """A price or offer as people write it: 16,590.8 → "16,590.80", 15000.0 → "15,000"."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def traits_of(own: Mapping[str, Any], core: Mapping[str, float]) -> dict[str, float]:
    """An agent's current Big Five: the core persona with any drift recorded in state."""
    drift = own.get("traits")
    return {**core, **drift} if isinstance(drift, Mapping) else dict(core)
