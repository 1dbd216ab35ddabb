"""How decisions and time change the world: a decision becomes events (what was said or
done, and a ``world`` patch); dynamics run once at the end of each step. What a decision's
kind-specific fields do (an offer, a stance, a vote) is the scenario's mechanics' business
(``aegntix.mechanics``); this module knows only say, act and pass."""

from __future__ import annotations

import math
from typing import Any

from aegntix.brains.base import RUNTIME_META_KEYS, Decision
from aegntix.engine.seeding import rng_for
from aegntix.errors import ExpressionFailed
from aegntix.mechanics import Turn, mechanics_of
from aegntix.mechanics.base import rejected
from aegntix.model.events import EventKind, NewEvent
from aegntix.model.expressions import evaluate
from aegntix.model.outcomes import expression_names
from aegntix.model.scenario import Scenario
from aegntix.model.state import State


def decision_events(
    scenario: Scenario, state: State, agent_id: str, step: int, decision: Decision
) -> list[NewEvent]:
    """The events one decision produces, in order. Invalid parts are recorded as a
    ``system`` rejection rather than silently dropped, so the transcript shows them. A
    decision with ``meta`` (a model-backed brain) is preceded by a ``decision`` event that
    records how it was reached: request digests and replies, so a replay needs no model."""
    events = _effect_events(scenario, state, agent_id, step, decision)
    if decision.meta is None:
        return events
    recorded = {k: v for k, v in decision.meta.items() if k not in RUNTIME_META_KEYS}
    return [NewEvent(step, EventKind.DECISION, recorded, agent_id), *events]


def _effect_events(
    scenario: Scenario, state: State, agent_id: str, step: int, decision: Decision
) -> list[NewEvent]:
    agent = scenario.agent(agent_id)
    turn = Turn(scenario, state, agent, step, decision, dict(decision.fields))
    mechanics_of(scenario).on_decision(turn)
    if turn.refused is not None:
        return [rejected(step, agent_id, turn.refused)]
    events, patch, fields = turn.events, turn.patch, turn.fields

    if decision.action == "say":
        events.append(
            NewEvent(
                step,
                EventKind.MESSAGE,
                {"text": decision.content, "to": decision.to, "fields": fields},
                agent_id,
            )
        )
    elif decision.action == "act":
        name = decision.act or ""
        if name not in agent.actions:
            events.append(rejected(step, agent_id, f"'{name}' is not one of its actions"))
        elif scenario.actions[name].once and name in state["world"].get("_actions_taken", {}):
            events.append(rejected(step, agent_id, f"'{name}' can be taken only once"))
        else:
            try:
                patch.update(_action_patch(scenario, state, name))
            except ExpressionFailed as exc:
                events.append(rejected(step, agent_id, f"action '{name}' failed: {exc.reason}"))
            else:
                taken = dict(state["world"].get("_actions_taken", {}))
                taken[name] = taken.get(name, 0) + 1
                patch["world._actions_taken"] = taken
                payload = {"action": name, "text": decision.content, "fields": fields}
                events.append(NewEvent(step, EventKind.ACTION, payload, agent_id))

    if patch:
        events.append(
            NewEvent(step, EventKind.WORLD, {"set": patch, "cause": "decision"}, agent_id)
        )
    return events


def dynamics_event(scenario: Scenario, state: State, step: int) -> NewEvent | None:
    """The end-of-step world update: every dynamics expression reads the same state."""
    if not scenario.dynamics:
        return None
    names = expression_names(scenario, state)
    patch: dict[str, Any] = {}
    for key, expr in scenario.dynamics.items():
        value = evaluate(expr, names, field=f"dynamics.{key}")
        if value != state["world"].get(key):
            patch[f"world.{key}"] = _clean(value, expr, f"dynamics.{key}")
    if not patch:
        return None
    return NewEvent(step, EventKind.WORLD, {"set": patch, "cause": "dynamics"})


def step_end_events(scenario: Scenario, state: State, step: int, seed: int) -> list[NewEvent]:
    """What the scenario's mechanics record once every agent decided and dynamics ran
    (``seed``: the branch's; the hook's rng is its own stream of it)."""
    mechanics = mechanics_of(scenario)
    if not mechanics.has_step_hook:
        return []
    return mechanics.on_step_end(scenario, state, step, rng_for(seed, step, "#mechanics"))


def _action_patch(scenario: Scenario, state: State, name: str) -> dict[str, Any]:
    # Effects apply in order, each seeing the ones before it.
    names = expression_names(scenario, state)
    patch: dict[str, Any] = {}
    for key, expr in scenario.actions[name].effects.items():
        where = f"actions.{name}.effects.{key}"
        value = _clean(evaluate(expr, names, field=where), expr, where)
        names[key] = value
        patch[f"world.{key}"] = value
    return patch


def _clean(value: Any, expr: str, field: str) -> Any:
    # Keep world values JSON-safe and free of float noise that would differ by platform.
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExpressionFailed("result is not a finite number", expression=expr, field=field)
        return round(value, 9)
    return value
