"""The ``Brain`` contract: an agent's observation in, a validated decision out.

Every brain — the offline rules brain here, LLM brains later — implements :class:`Brain`.
A brain must draw randomness only from the ``rng`` it is handed (derived by the engine
from the branch seed, step and agent), so runs are reproducible.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from aegntix.model.scenario import ActionSpec, AgentSpec, Arguments

if TYPE_CHECKING:
    from aegntix.mechanics.base import Mechanics
    from aegntix.tools.base import AgentTools


@dataclass(frozen=True, slots=True)
class VisibleEvent:
    """Something the agent saw: a message, an action or an injection addressed to it."""

    seq: int
    step: int
    kind: str  # "message" | "action" | "injection"
    agent_id: str | None  # the speaker/actor; None for an injection
    text: str
    fields: Mapping[str, Any] = field(default_factory=dict)  # the mechanics' fields, action
    to: tuple[str, ...] | None = None  # addressees; None = everyone
    urgency: float | None = None  # an injection's urgency (0..1)
    private: bool = False  # a direct injection: told to its targets only


@dataclass(frozen=True, slots=True)
class Observation:
    """What one agent knows when it decides. Mappings are read-only views: do not mutate."""

    scenario: str
    topic: str
    step: int  # the step being decided (1-based)
    max_steps: int | None
    agent: AgentSpec
    own: Mapping[str, Any]  # the agent's own state (what its mechanics keep: stance, offer)
    world: Mapping[str, Any]
    others: Mapping[str, Mapping[str, Any]]  # other agents' public state, by id
    roster: Mapping[str, AgentSpec]  # every agent, by id (names and roles for addressing)
    visible: Sequence[VisibleEvent]  # the last ``memory_window`` steps, oldest first
    actions: Mapping[str, ActionSpec]  # actions this agent may take now
    memory: Sequence[str] = ()  # retrieved long-term memories (persistent agents, later)
    #: The arguments this agent reads injections against (its own, else the scenario's).
    arguments: Arguments | None = None
    #: The scenario's mechanics (``aegntix.mechanics``): the decision fields a model is
    #: offered and how its answer is checked. None: the default kinds.
    mechanics: Mechanics | None = None
    #: The tools this agent may call in this decision (``aegntix.tools``); None: no tools.
    tools: AgentTools | None = None


class Decision(BaseModel):
    """A brain's answer. ``say`` speaks ``content``; ``act`` performs action ``act``;
    ``pass`` does nothing. The scenario's mechanics act on the rest: ``offer``, ``accept``
    and ``stance`` are the built-in kinds' fields, kept here so recorded model replies and
    the rules brain stay wire-compatible; any other kind's fields travel in ``fields``
    (``aegntix.mechanics.decision_value`` reads either)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["say", "act", "pass"]
    content: str = Field(default="", max_length=4000)
    to: list[str] | None = None
    act: str | None = None
    offer: float | None = None
    accept: bool = False
    stance: float | None = Field(default=None, ge=-1.0, le=1.0)
    fields: dict[str, Any] = Field(default_factory=dict)
    #: How much what the agent just saw matters to it, 1..10 (memory on: a model-backed brain
    #: scores its new observations this way; the rules brain leaves it to the rules).
    importance: int | None = Field(default=None, ge=1, le=10)
    #: How a model-backed brain reached this decision (provider, model, each call's request
    #: digest, reply, tokens and cost, fallback, ...). The engine records it as a
    #: ``decision`` event, minus :data:`RUNTIME_META_KEYS`. Never secrets, never the prompt.
    meta: dict[str, Any] | None = None


#: Meta keys that describe this run rather than the decision (a fork served from the cache
#: has ``cached: true`` where its parent paid): not recorded, so a fork with no intervention
#: keeps its parent's event hashes (invariant 3).
RUNTIME_META_KEYS = frozenset({"cached", "attempts", "latency_ms"})


@dataclass(frozen=True, slots=True)
class ReflectionRequest:
    """What an agent reflects on: its memories since its last reflection, numbered from 1."""

    scenario: str
    topic: str
    step: int
    agent: AgentSpec
    memories: Sequence[str]


class Insight(BaseModel):
    """One higher-level insight and the memories (1-based numbers) it rests on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=1, max_length=1000)
    cites: list[int] = Field(default_factory=list, max_length=50)


class Reflection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    insights: list[Insight] = Field(max_length=5)
    #: As for :attr:`Decision.meta`: the model calls it rests on (recorded; replayable).
    meta: dict[str, Any] | None = None


@runtime_checkable
class Reflector(Protocol):
    """A brain that can distil insights itself (model-backed brains). Without it, the
    memory stream's deterministic rules reflect for the agent. ``None``: it could not (the
    rules take over; ``meta`` of the attempt is still recorded if returned)."""

    async def reflect(
        self, request: ReflectionRequest, rng: random.Random
    ) -> Reflection | None: ...


@runtime_checkable
class Brain(Protocol):
    """Decides for an agent. ``decide`` is async so network-bound brains fit the engine."""

    name: str

    async def decide(self, observation: Observation, rng: random.Random) -> Decision: ...
