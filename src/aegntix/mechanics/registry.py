"""Registered mechanics, and the one a scenario uses.

A scenario names its kinds with ``mechanics:`` (one name, a list, or a mapping of names to
their options, which act in the order of their names). Without it, the
built-in kinds all apply at once — each acts only on agents that declare its terms
(negotiation terms, a stance, actions) — which is how the engine always behaved, so every
existing scenario, recorded timeline and prompt stays exactly as it was.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aegntix.errors import ScenarioInvalid
from aegntix.mechanics.base import (
    ENGINE_FIELDS,
    ENGINE_NAMES,
    BaseMechanics,
    DecisionField,
    Loc,
    Mechanics,
    Position,
    State,
    Turn,
)
from aegntix.model.events import NewEvent

if TYPE_CHECKING:
    from aegntix.brains.base import Decision, Observation
    from aegntix.model.scenario import AgentSpec, Scenario

_REGISTRY: dict[str, Mechanics] = {}
_COMBINED: dict[tuple[str, ...], Combined] = {}

#: The kinds a scenario without ``mechanics:`` uses (fields shown to a model in this order).
DEFAULT = ("negotiation", "opinion", "incident")


class Combined:
    """Several kinds acting together, in order: fields, events and built-ins of each; the
    first kind with a say gives an agent's position."""

    def __init__(self, parts: Sequence[Mechanics]) -> None:
        self.parts = tuple(parts)
        _check_apart(self.parts)
        self.name = "+".join(p.name for p in self.parts)
        self.decision_fields: tuple[DecisionField, ...] = tuple(
            f for p in self.parts for f in p.decision_fields
        )
        self.builtin_names = frozenset().union(*(p.builtin_names for p in self.parts))
        self.agent_names = frozenset().union(*(p.agent_names for p in self.parts))
        self.agent_terms = frozenset().union(*(p.agent_terms for p in self.parts))
        self.field_names = frozenset(f.name for f in self.decision_fields)
        # expressions read the built-ins at every decision: ask only kinds that have some
        self._naming = tuple(p for p in self.parts if p.builtin_names)
        self._hooked = tuple(
            p
            for p in self.parts
            if getattr(type(p), "on_step_end", None) is not BaseMechanics.on_step_end
        )

    def problems(self, scenario: Scenario) -> list[tuple[Loc, str]]:
        return [found for p in self.parts for found in p.problems(scenario)]

    def initial_agent(self, agent: AgentSpec) -> dict[str, Any]:
        own: dict[str, Any] = {}
        for p in self.parts:
            own.update(p.initial_agent(agent))
        return own

    def world_defaults(self, scenario: Scenario) -> dict[str, Any]:
        world: dict[str, Any] = {}
        for p in self.parts:
            world.update(p.world_defaults(scenario))
        return world

    def builtins(self, scenario: Scenario, state: State) -> dict[str, Any]:
        if len(self._naming) == 1:
            return self._naming[0].builtins(scenario, state)
        names: dict[str, Any] = {}
        for p in self._naming:
            names.update(p.builtins(scenario, state))
        return names

    def on_decision(self, turn: Turn) -> None:
        for p in self.parts:
            p.on_decision(turn)

    def on_step_end(
        self, scenario: Scenario, state: State, step: int, rng: random.Random
    ) -> list[NewEvent]:
        return [e for p in self._hooked for e in p.on_step_end(scenario, state, step, rng)]

    @property
    def has_step_hook(self) -> bool:
        """Whether any kind records something at the end of a step (else skip the call)."""
        return bool(self._hooked)

    def position(self, agent: AgentSpec, own: Mapping[str, Any]) -> Position | None:
        for p in self.parts:
            found = p.position(agent, own)
            if found is not None:
                return found
        return None

    def prompt_lines(self, agent: AgentSpec) -> list[str]:
        return [line for p in self.parts for line in p.prompt_lines(agent)]

    def checked(self, decision: Decision, observation: Observation) -> dict[str, Any]:
        update: dict[str, Any] = {}
        for p in self.parts:
            update.update(p.checked(decision, observation))
        return update

    def describe(self, fields: Mapping[str, Any]) -> str:
        return "".join(p.describe(fields) for p in self.parts)

    def __repr__(self) -> str:
        return f"<mechanics {self.name}>"


def _check_apart(parts: Sequence[Mechanics]) -> None:
    """Kinds acting together may not add the same field or built-in name."""
    owner: dict[str, str] = {}
    for p in parts:
        for name in [f.name for f in p.decision_fields] + sorted(p.builtin_names):
            if name in owner:
                raise ScenarioInvalid(
                    f"mechanics '{owner[name]}' and '{p.name}' both define '{name}'",
                    field="mechanics",
                )
            owner[name] = p.name


def register(mechanics: Mechanics, *, replace: bool = False) -> Mechanics:
    """Make ``mechanics`` selectable by its name (``replace``: over one of that name)."""
    name = mechanics.name
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"mechanics name {name!r}: letters, digits, '-' or '_'")
    if name in _REGISTRY and not replace and _REGISTRY[name] is not mechanics:
        raise ValueError(f"a mechanics named '{name}' is already registered")
    clash = mechanics.builtin_names & ENGINE_NAMES
    if clash:
        raise ValueError(f"mechanics '{name}': {', '.join(sorted(clash))} are the engine's names")
    taken = {f.name for f in mechanics.decision_fields} & ENGINE_FIELDS
    if taken:
        raise ValueError(f"mechanics '{name}': {', '.join(sorted(taken))} are the engine's fields")
    if name in _REGISTRY:
        _COMBINED.clear()  # a combination holding the old one must not be reused
    _REGISTRY[name] = mechanics
    return mechanics


def unregister(name: str) -> None:
    """Forget a registered mechanics (tests that register their own clean up with this)."""
    _REGISTRY.pop(name, None)
    _COMBINED.clear()


def registered() -> list[str]:
    """Every registered name, sorted."""
    return sorted(_REGISTRY)


def check_names(names: Iterable[str]) -> list[str]:
    """The names as a list; ``ScenarioInvalid`` (field ``mechanics``) names the first
    unknown one and lists the registered names."""
    out = list(names)
    for name in out:
        if name not in _REGISTRY:
            raise ScenarioInvalid(
                f"unknown mechanics '{name}' (registered: {', '.join(registered())})",
                field="mechanics",
            )
    if len(set(out)) != len(out):
        raise ScenarioInvalid("a mechanics is named twice", field="mechanics")
    return out


def unselected_terms(scenario: Scenario) -> list[tuple[int, str, str]]:
    """(agent index, agent-spec field, the kind that reads it) for every field an agent sets
    that only a kind the scenario does not select reads."""
    chosen = mechanics_of(scenario).agent_terms
    owners = {
        term: name
        for name, kind in sorted(_REGISTRY.items())
        for term in kind.agent_terms
        if term not in chosen
    }
    return [
        (i, term, owner)
        for i, agent in enumerate(scenario.agents)
        for term, owner in owners.items()
        if getattr(agent, term, None) is not None
    ]


def combined(names: Sequence[str]) -> Combined:
    """The registered mechanics of ``names``, acting together in that order."""
    key = names if type(names) is tuple else tuple(names)
    found = _COMBINED.get(key)
    if found is None:
        found = _COMBINED[key] = Combined([_REGISTRY[n] for n in check_names(key)])
    return found


def names_of(scenario: Scenario) -> tuple[str, ...]:
    """The kinds a scenario uses: its ``mechanics:``, else :data:`DEFAULT`."""
    declared = scenario.mechanics
    if declared is None:
        return DEFAULT
    if isinstance(declared, dict):
        # a stored spec's keys come back sorted (canonical JSON): sort here too, so a
        # scenario acts the same before and after the database holds it
        return tuple(sorted(declared))
    return (declared,) if isinstance(declared, str) else tuple(declared)


def options_of(scenario: Scenario, name: str) -> Mapping[str, Any]:
    """The options ``mechanics: {name: {...}}`` gives kind ``name`` (empty: none given)."""
    declared = scenario.mechanics
    found = declared.get(name) if isinstance(declared, dict) else None
    return found if found is not None else {}


def mechanics_of(scenario: Scenario) -> Combined:
    """The mechanics a scenario runs with."""
    # by the (frozen) scenario's identity first: the engine asks several times per decision
    hit = _of_scenario.get(id(scenario))
    if hit is not None and hit[0] is scenario:
        return hit[1]
    found = combined(names_of(scenario))
    if len(_of_scenario) >= 256:
        _of_scenario.clear()
    _of_scenario[id(scenario)] = (scenario, found)
    return found


#: id(scenario) -> (the scenario, its mechanics); holding the scenario keeps its id unique.
_of_scenario: dict[int, tuple[Scenario, Combined]] = {}
