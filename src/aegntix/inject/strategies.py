"""Injections: new context put into a branch, recorded as events.

How an injection reaches agents is its strategy (``aegntix.inject.registry``): ``direct``
(a private message), ``broadcast`` (news every agent observes, optionally changing world
facts), ``gradual`` (spread over steps). An injection at a past step forks first and
injects into the new branch, so the original future stays intact. Injections for step k
are written before any agent of step k decides (DESIGN §9).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aegntix.errors import BranchFinished, ExpressionFailed, ForkOutOfRange, InvalidRequest
from aegntix.inject.base import Spread
from aegntix.inject.organic import neighbours_of
from aegntix.inject.registry import DEFAULT, strategy_named
from aegntix.model.events import Branch, BranchStatus, Event, EventKind, NewEvent
from aegntix.model.expressions import ExpressionError
from aegntix.model.outcomes import compute_outcomes, is_terminal
from aegntix.model.scenario import Scenario
from aegntix.model.state import State
from aegntix.model.stored import scenario_from
from aegntix.model.text import data_problem, text_problem
from aegntix.swarm.recorded import recorded_topology
from aegntix.timeline.state import state_at
from aegntix.timeline.store import Store

MAX_CONTENT = 4000


@dataclass(frozen=True, slots=True)
class Injected:
    branch: Branch  # where the injection went: the branch itself, or a new fork
    forked: bool
    events: list[Event]


def inject(
    store: Store,
    branch_id: str,
    content: str,
    *,
    targets: Sequence[str] | None = None,
    strategy: str = DEFAULT,
    schedule: Mapping[str, Any] | None = None,
    at_step: int | None = None,
    fields: Mapping[str, Any] | None = None,
    world: Mapping[str, Any] | None = None,
    urgency: float = 0.5,
    label: str | None = None,
    new_branch: bool = False,
    seed: int | None = None,
) -> Injected:
    """Inject into ``branch_id`` after step ``at_step`` (default: its last completed step).

    A past ``at_step`` (or ``new_branch``) forks first and injects into the fork.
    Everything is validated before anything is written: a bad injection changes nothing.
    """
    branch = store.get_branch(branch_id)
    scenario = scenario_from(store.get_scenario(branch.scenario_id))
    head_state = state_at(store, branch_id)
    completed = int(head_state["completed"])
    if at_step is None:
        at_step = completed
    if at_step < 0 or at_step > completed:
        raise ForkOutOfRange(
            f"cannot inject at step {at_step}: "
            f"branch {branch_id} has completed steps 0..{completed}"
        )
    payload, world_patch = validated(
        scenario, content, targets, strategy, fields, world, urgency, schedule=schedule
    )

    forked = new_branch or at_step < completed
    if not forked and _finished(scenario, branch, head_state):
        raise BranchFinished(
            f"branch {branch_id} has finished (step {completed}): nothing will run after an "
            "injection into it. Fork it at an earlier step instead (CLI: fork "
            f"{branch_id} --at STEP --inject TEXT; API: inject with at_step)"
        )
    if forked:
        target = store.fork(branch_id, at_step, seed=seed, label=label or f"inject@{at_step}")
        base: State = state_at(store, target.id)
    else:
        target, base = branch, head_state
    step = int(base["completed"]) + 1
    # the graph the branch runs with (recorded in its lineage's start event)
    graph = neighbours_of(recorded_topology(store, target.id, scenario))
    spread = Spread(scenario, target.seed, step, graph)
    payload = strategy_named(payload["strategy"]).record(payload, spread)
    events = [NewEvent(step, EventKind.INJECTION, payload)]
    if world_patch:
        events.append(NewEvent(step, EventKind.WORLD, {"set": world_patch, "cause": "injection"}))
    appended = store.append(target.id, events, expect_seq=store.get_branch(target.id).head_seq)
    return Injected(store.get_branch(target.id), forked, appended)


def _finished(scenario: Scenario, branch: Branch, state: State) -> bool:
    """Nothing more will run on it: done, or its end condition holds at its head."""
    if branch.status is BranchStatus.DONE:
        return True
    try:
        return is_terminal(scenario, state, compute_outcomes(scenario, state))
    except (ExpressionError, ExpressionFailed):
        return False  # the next run reports the failing expression itself


def validated(
    scenario: Scenario,
    content: str,
    targets: Sequence[str] | None,
    strategy: str,
    fields: Mapping[str, Any] | None,
    world: Mapping[str, Any] | None,
    urgency: float,
    *,
    schedule: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the injection event's payload before its strategy records it, the world patch), or
    InvalidRequest naming the field."""
    kind = strategy_named(strategy)
    if not content.strip():
        raise InvalidRequest("content: an injection needs some text")
    if len(content) > MAX_CONTENT:
        raise InvalidRequest(f"content: longer than {MAX_CONTENT} characters")
    if problem := text_problem(content):
        raise InvalidRequest(f"content: {problem}")
    for name, data in (("fields", fields), ("world", world)):
        if data is not None and (problem := data_problem(dict(data))):
            raise InvalidRequest(f"{name}: {problem}")
    if not 0.0 <= urgency <= 1.0:
        raise InvalidRequest("urgency: must be between 0 and 1")
    known = {a.id for a in scenario.agents}
    unknown = sorted(set(targets or ()) - known)
    if unknown:
        raise InvalidRequest(
            f"targets: unknown agent(s) {', '.join(unknown)}; agents are {', '.join(sorted(known))}"
        )
    stance = (fields or {}).get("stance")
    if stance is not None and not (isinstance(stance, int | float) and -1 <= stance <= 1):
        raise InvalidRequest("fields.stance: must be a number between -1 and 1")
    extra = kind.validate(scenario, targets, schedule, bool(world))
    patch: dict[str, Any] = {}
    for key, value in (world or {}).items():
        if key not in scenario.world:
            raise InvalidRequest(f"world: '{key}' is not a world key of this scenario")
        patch[f"world.{key}"] = value
    payload: dict[str, Any] = {
        "content": content,
        "strategy": kind.name,
        "targets": sorted(set(targets)) if targets else None,
        "urgency": urgency,
        "fields": dict(fields or {}),
        **extra,
    }
    return payload, patch
