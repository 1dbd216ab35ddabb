"""World state as a pure fold of events.

A state is plain JSON data: ``{"step": int, "completed": int, "world": {...},
"agents": {id: {...}}}``. ``step`` is the newest event's step; ``completed`` the last step the
engine finished (a ``system`` event ``{"type": "step_end"}``) — they differ while injections
for the next step wait. Only ``world`` events change the rest, through
``{"set": {"world.key": v, "agents.id.key": v}}`` patches, so any store can rebuild state at
any step without knowing scenario logic.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from aegntix.mechanics import mechanics_of
from aegntix.model.events import Event, EventKind
from aegntix.model.scenario import Scenario

State = dict[str, Any]

#: ``system`` event type that closes a step.
STEP_END = "step_end"


def empty_state() -> State:
    """The state before any event: every branch's fold starts here."""
    return {"step": 0, "completed": 0, "world": {}, "agents": {}}


def initial_patch(scenario: Scenario) -> dict[str, Any]:
    """The step-0 ``world`` event's assignments: folding it into ``empty_state()`` gives
    ``initial_state(scenario)``. Recording it makes a timeline self-describing."""
    state = initial_state(scenario)
    patch: dict[str, Any] = {f"world.{k}": v for k, v in state["world"].items()}
    for agent_id, own in state["agents"].items():
        patch.update({f"agents.{agent_id}.{k}": v for k, v in own.items()})
    return patch


def initial_state(scenario: Scenario) -> State:
    """The state at step 0: each agent's part comes from the scenario's mechanics."""
    mechanics = mechanics_of(scenario)
    agents: dict[str, dict[str, Any]] = {}
    for agent in scenario.agents:
        own = mechanics.initial_agent(agent)
        if agent.profile is not None and agent.profile.traits:
            own["traits"] = dict(agent.profile.traits)  # a persistent agent's drifted persona
        agents[agent.id] = own
    world = copy.deepcopy(dict(scenario.world))
    return {"step": 0, "completed": 0, "world": world, "agents": agents}


#: Values shared as they are: immutable, so a copy would be the same (and costs a call).
_IMMUTABLE = frozenset({str, int, float, bool, type(None)})


def _own(value: Any) -> Any:
    return value if type(value) in _IMMUTABLE else copy.deepcopy(value)


def apply_patch(state: State, assignments: Mapping[str, Any]) -> None:
    """Apply ``{"world.key": v, "agents.<id>.key": v}`` in place."""
    for path, value in assignments.items():
        head, _, rest = path.partition(".")
        if head == "world" and rest:
            state["world"][rest] = _own(value)
        elif head == "agents" and rest:
            agent_id, _, key = rest.partition(".")
            state["agents"].setdefault(agent_id, {})[key] = _own(value)
        else:
            raise ValueError(f"bad state path '{path}'")


def apply_event(state: State, kind: str, step: int, payload: Mapping[str, Any]) -> None:
    """Fold one event into ``state`` in place (the caller owns the state)."""
    state["step"] = max(state["step"], step)
    if kind == EventKind.WORLD:
        apply_patch(state, payload.get("set", {}))
    elif kind == EventKind.SYSTEM and payload.get("type") == STEP_END:
        state["completed"] = step


def fold(state: State, events: Iterable[Event]) -> State:
    """Apply events in order; returns ``state`` for chaining."""
    for event in events:
        apply_event(state, event.kind, event.step, event.payload)
    return state
