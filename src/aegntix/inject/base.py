"""The contract of an injection strategy (DESIGN §4, "injection strategies are objects").

A strategy validates a request, plans who hears the injection at which step, says who hears
a recorded injection event, and names the events to materialize at a later step before any
agent of that step decides. Everything it decides is a pure function of the recorded event
(and, when planning, of the branch seed and step), so a fork inherits a pending spread
exactly (invariants 3 and 5). A strategy that follows the topology (``organic``) plans from
``Spread.neighbours``: the run's who-hears-whom graph, given once topologies exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aegntix.model.scenario import Scenario


@dataclass(frozen=True, slots=True)
class Parameter:
    """One request field a strategy reads (listed by ``GET /v1/meta``)."""

    name: str
    type: str  # JSON-schema-ish: "agents", "object", …
    description: str
    required: bool = False

    def json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "description": self.description,
            "required": self.required,
        }


@dataclass(frozen=True, slots=True)
class Wave:
    """Who first hears the injection ``offset`` steps after the step it lands at."""

    offset: int
    agents: tuple[str, ...] | None  # None: every agent

    def json(self) -> dict[str, Any]:
        return {"offset": self.offset, "agents": list(self.agents) if self.agents else None}


@dataclass(frozen=True, slots=True)
class Hearing:
    """Who sees one recorded injection event, and whether it reads as told privately."""

    agents: frozenset[str] | None  # None: everyone
    private: bool


@dataclass(frozen=True, slots=True)
class Spread:
    """What planning may use: the scenario, the seed of the branch the injection lands in
    and the step it lands at. ``neighbours`` (agent -> who hears it) is the run's topology,
    ``None`` while every agent hears every other (the hook ``organic`` needs)."""

    scenario: Scenario
    seed: int
    step: int
    neighbours: Mapping[str, frozenset[str]] | None = None


class InjectionStrategy(Protocol):
    """One way an injection reaches agents; registered once in ``aegntix.inject.registry``."""

    name: str
    description: str
    parameters: tuple[Parameter, ...]

    def validate(
        self,
        scenario: Scenario,
        targets: Sequence[str] | None,
        schedule: Mapping[str, Any] | None,
        world: bool,
    ) -> dict[str, Any]:
        """Extra fields of the injection event's payload, or ``InvalidRequest`` naming the
        field (``targets``, ``schedule.steps`` …). ``world``: the request changes facts."""
        ...

    def plan(self, payload: Mapping[str, Any], spread: Spread) -> tuple[Wave, ...]:
        """Who hears it when (offsets from the step it lands at), from a validated payload."""
        ...

    def record(self, payload: Mapping[str, Any], spread: Spread) -> dict[str, Any]:
        """The payload as recorded when it lands (a spreading strategy writes its plan in,
        so the timeline, not the code, holds what is pending)."""
        ...

    def hearing(self, payload: Mapping[str, Any], step: int) -> Hearing:
        """Who sees a recorded injection event of this strategy at ``step``."""
        ...

    def span(self, payload: Mapping[str, Any]) -> int:
        """Steps after the landing step during which ``due`` may materialize events."""
        ...

    def due(
        self, payload: Mapping[str, Any], seq: int, landed: int, step: int
    ) -> list[dict[str, Any]]:
        """Payloads of the injection events to write at ``step`` (before agents decide)
        for the event ``seq`` recorded at step ``landed``; ``[]`` if none are due."""
        ...
