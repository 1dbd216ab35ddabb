"""The ``Mechanics`` contract: what a scenario kind adds to the engine.

A kind (negotiation, opinion, incident, a consensus protocol, ...) adds decision fields to
what an agent answers, turns those fields into state changes and events, names the built-in
values expressions may read, and says where an agent stands (for persona drift). The engine
asks the scenario's mechanics and knows none of them (DESIGN §4). Subclass
:class:`BaseMechanics` and override what the kind needs; register it with
:func:`aegntix.mechanics.register`.

Runtime imports stay within ``aegntix.model.events`` so the model layer (outcomes, initial
state, validation) can use mechanics without an import cycle.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from aegntix.model.events import EventKind, NewEvent

if TYPE_CHECKING:
    from aegntix.brains.base import Decision, Observation
    from aegntix.model.scenario import AgentSpec, Scenario

State = dict[str, Any]  # as aegntix.model.state.State (not imported: that module uses this)
#: A field path in the scenario file, as ``aegntix.model.checks`` reports problems.
Loc = tuple[str | int, ...]

#: Names the engine itself gives every expression; a mechanics may not reuse them.
ENGINE_NAMES = frozenset({"step", "max_steps", "n_agents"})
#: Decision keys of the engine's own (say/act/pass); a mechanics' field may not reuse them.
ENGINE_FIELDS = frozenset({"action", "content", "to", "act", "fields", "importance", "meta"})


@dataclass(frozen=True, slots=True)
class DecisionField:
    """One field a kind adds to an agent's answer. ``schema`` is its JSON Schema as a model
    is shown it (with a ``default``); ``note`` says what it means, for the prompt. A field
    that is not one of :class:`~aegntix.brains.base.Decision`'s own travels in
    ``Decision.fields`` under its name, where an LLM reply's value is put after checking it
    against ``schema`` (``aegntix.brains.prompting``)."""

    name: str
    schema: Mapping[str, Any]
    note: str
    #: Checks and converts a model's raw value (raise ``ValueError`` with a short reason);
    #: None: taken as it is. Fields of :class:`Decision` itself are checked by it instead.
    parse: Callable[[Any], Any] | None = None


@dataclass(frozen=True, slots=True)
class Position:
    """Where an agent stands for persona drift: a value in -1..1 (None: none yet) and
    whether it is *valenced* (for or against the topic, as a stance is; an offer is not)."""

    value: float | None
    valenced: bool = True


@dataclass(slots=True)
class Turn:
    """One decision on its way to events. Each mechanics in turn reads the decision and adds
    to ``fields`` (recorded on the message or action), ``patch`` (state assignments of the
    decision's ``world`` event), ``events`` (recorded before the message or action, such as
    rejections), or refuses the whole decision (``refuse``: only a rejection is recorded)."""

    scenario: Scenario
    state: State
    agent: AgentSpec
    step: int
    decision: Decision
    fields: dict[str, Any]
    patch: dict[str, Any] = field(default_factory=dict)
    events: list[NewEvent] = field(default_factory=list)
    refused: str | None = None

    @property
    def own(self) -> Mapping[str, Any]:
        """The deciding agent's state."""
        own: Mapping[str, Any] = self.state["agents"].get(self.agent.id, {})
        return own

    def value(self, name: str) -> Any:
        """A decision field's value (see :func:`decision_value`)."""
        return decision_value(self.decision, name)

    def reject(self, reason: str) -> None:
        """Record a ``system`` rejection of part of the decision; the rest still counts."""
        self.events.append(rejected(self.step, self.agent.id, reason))

    def refuse(self, reason: str) -> None:
        """Refuse the whole decision: nothing of it is recorded but the rejection."""
        if self.refused is None:
            self.refused = reason


def decision_value(decision: Decision, name: str) -> Any:
    """A field's value: a :class:`Decision` attribute (``offer``, ``accept``, ``stance``
    are kept there so recorded replies and the rules brain stay wire-compatible), else the
    entry of ``decision.fields``."""
    if name in type(decision).model_fields and name != "fields":
        return getattr(decision, name)
    return decision.fields.get(name)


def rejected(step: int, agent_id: str, reason: str) -> NewEvent:
    return NewEvent(step, EventKind.SYSTEM, {"type": "rejected", "reason": reason}, agent_id)


@runtime_checkable
class Mechanics(Protocol):
    """A scenario kind. Every method is a pure function of its arguments (and the branch's
    recorded events through ``state``), so a branch replays exactly."""

    @property
    def name(self) -> str:
        """What a scenario's ``mechanics:`` calls it."""
        ...

    @property
    def decision_fields(self) -> tuple[DecisionField, ...]:
        """What the kind adds to an agent's answer, in the order a model is shown them."""
        ...

    @property
    def builtin_names(self) -> frozenset[str]:
        """The built-in names :meth:`builtins` gives expressions (validated against)."""
        ...

    @property
    def agent_names(self) -> frozenset[str]:
        """Per-agent state keys a per-agent outcome or an objective may read."""
        ...

    @property
    def agent_terms(self) -> frozenset[str]:
        """Agent-spec fields only this kind reads (``negotiation``): a scenario setting one
        without selecting the kind is refused rather than silently ignored."""
        ...

    def problems(self, scenario: Scenario) -> list[tuple[Loc, str]]:
        """What is wrong with the scenario for this kind (its options under
        ``mechanics: {name: {...}}``, ids they name, ...): (field path, reason) each."""
        ...

    def initial_agent(self, agent: AgentSpec) -> dict[str, Any]:
        """The kind's part of an agent's state at step 0."""
        ...

    def world_defaults(self, scenario: Scenario) -> dict[str, Any]:
        """World facts the kind keeps, with their values when the scenario file omits them
        (added to the world when the scenario is validated, so expressions may read them)."""
        ...

    def builtins(self, scenario: Scenario, state: State) -> dict[str, Any]:
        """Values of :attr:`builtin_names` in ``state``."""
        ...

    def on_decision(self, turn: Turn) -> None:
        """Turn the kind's fields of ``turn.decision`` into fields, a patch, events."""
        ...

    def on_step_end(
        self, scenario: Scenario, state: State, step: int, rng: random.Random
    ) -> list[NewEvent]:
        """Events after every agent decided and dynamics ran (a voting round, say).
        ``rng`` is derived from the branch seed and the step: draw from nothing else."""
        ...

    def position(self, agent: AgentSpec, own: Mapping[str, Any]) -> Position | None:
        """Where ``agent`` stands given its state ``own``; None: the kind has no say."""
        ...

    def prompt_lines(self, agent: AgentSpec) -> list[str]:
        """What an agent must know about its part (a model-backed brain's system prompt)."""
        ...

    def checked(self, decision: Decision, observation: Observation) -> dict[str, Any]:
        """A model's decision checked by what only the observation tells: updates to apply
        to it; raise ``ValueError`` with a short reason to have the model asked again."""
        ...

    def describe(self, fields: Mapping[str, Any]) -> str:
        """A short suffix naming the kind's fields of a seen message, for memory texts."""
        ...


class BaseMechanics:
    """A mechanics that adds nothing: subclass it and override what a kind needs."""

    name = "base"
    decision_fields: tuple[DecisionField, ...] = ()
    builtin_names: frozenset[str] = frozenset()
    agent_names: frozenset[str] = frozenset()
    agent_terms: frozenset[str] = frozenset()

    def problems(self, scenario: Scenario) -> list[tuple[Loc, str]]:
        from aegntix.mechanics.registry import options_of

        if options_of(scenario, self.name):
            return [(("mechanics", self.name), f"the '{self.name}' mechanics takes no options")]
        return []

    def initial_agent(self, agent: AgentSpec) -> dict[str, Any]:
        return {}

    def world_defaults(self, scenario: Scenario) -> dict[str, Any]:
        return {}

    def builtins(self, scenario: Scenario, state: State) -> dict[str, Any]:
        return {}

    def on_decision(self, turn: Turn) -> None:
        return None

    def on_step_end(
        self, scenario: Scenario, state: State, step: int, rng: random.Random
    ) -> list[NewEvent]:
        return []

    def position(self, agent: AgentSpec, own: Mapping[str, Any]) -> Position | None:
        return None

    def prompt_lines(self, agent: AgentSpec) -> list[str]:
        return []

    def checked(self, decision: Decision, observation: Observation) -> dict[str, Any]:
        return {}

    def describe(self, fields: Mapping[str, Any]) -> str:
        return ""

    def __repr__(self) -> str:
        return f"<mechanics {self.name}>"
