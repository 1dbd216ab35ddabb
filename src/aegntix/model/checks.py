"""Checks across a scenario's fields (ids, actions, brains, expressions): every problem, each
with the path of the field it belongs to, so the loader can name its line. Also the
warnings: what validates but will probably fail when run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aegntix.model.expressions import (
    ExpressionError,
    arithmetic_names,
    divisor_names,
    names_in,
)
from aegntix.model.tools import argument_expression, tools_problems
from aegntix.model.topology import topology_problems

if TYPE_CHECKING:
    from aegntix.model.scenario import Scenario

Loc = tuple[str | int, ...]
#: (field path, reason)
Found = list[tuple[Loc, str]]


def consistency_problems(scenario: Scenario) -> Found:
    """Every cross-field problem of an otherwise well-typed scenario."""
    from aegntix.mechanics import mechanics_of, unselected_terms
    from aegntix.mechanics.base import ENGINE_NAMES
    from aegntix.mechanics.registry import names_of

    builtin_names = ENGINE_NAMES | mechanics_of(scenario).builtin_names
    found = repeated_ids({"agents": [{"id": a.id} for a in scenario.agents]})
    profile_of: dict[str, int] = {}
    for i, agent in enumerate(scenario.agents):
        if agent.profile is not None:
            if agent.profile.id in profile_of:
                found.append(
                    (
                        ("agents", i, "profile"),
                        "a persistent agent plays one part; "
                        f"'{agent.profile.id}' is also agents.{profile_of[agent.profile.id]}",
                    )
                )
            profile_of.setdefault(agent.profile.id, i)
        for j, action in enumerate(agent.actions):
            if action not in scenario.actions:
                known = ", ".join(scenario.actions) or "none declared"
                found.append(
                    (("agents", i, "actions", j), f"unknown action '{action}' (actions: {known})")
                )
        brain = scenario.brain.merged(agent.brain)
        if brain.kind != "rules" and not brain.model:
            where: Loc = ("agents", i, "brain") if agent.brain is not None else ("brain",)
            found.append(
                (
                    where,
                    f"agent '{agent.id}': a '{brain.kind}' brain needs a 'model' "
                    "(in the scenario's brain or the agent's)",
                )
            )
    for i, term, kind in unselected_terms(scenario):
        found.append(
            (
                ("agents", i, term),
                f"'{term}' is read by the '{kind}' mechanics, which this scenario does not "
                f"select (mechanics: {', '.join(names_of(scenario))})",
            )
        )
    found.extend(mechanics_of(scenario).problems(scenario))
    found += tools_problems(scenario)
    if scenario.topology is not None:
        found += topology_problems(scenario.topology, [a.id for a in scenario.agents])
    world_names = set(scenario.world) | builtin_names
    for loc, expr, extra in expressions(scenario, found):
        try:
            unknown = names_in(expr) - world_names - extra
        except ExpressionError as exc:
            found.append((loc, str(exc)))
            continue
        if unknown:
            found.append(
                (
                    loc,
                    f"unknown name(s) {', '.join(sorted(unknown))}; expressions may read "
                    "world keys and " + ", ".join(sorted(builtin_names | extra)),
                )
            )
    return found


def repeated_ids(data: dict[str, Any]) -> Found:
    """Repeated agent ids in raw (not yet validated) scenario data."""
    agents = data.get("agents")
    found: Found = []
    first_of: dict[str, int] = {}
    for i, agent in enumerate(agents if isinstance(agents, list) else []):
        agent_id = agent.get("id") if isinstance(agent, dict) else None
        if not isinstance(agent_id, str):
            continue
        if agent_id in first_of:
            found.append(
                (
                    ("agents", i, "id"),
                    f"agent ids must be unique; '{agent_id}' is also "
                    f"agents.{first_of[agent_id]}.id",
                )
            )
        first_of.setdefault(agent_id, i)
    return found


def expressions(scenario: Scenario, found: Found | None = None) -> list[tuple[Loc, str, Any]]:
    """(field path, expression, extra names it may read) of every expression; an effect or
    dynamics entry on a key that is not in the world is added to ``found``."""
    from aegntix.mechanics import mechanics_of
    from aegntix.model.outcomes import world_names_extra

    agent_names = mechanics_of(scenario).agent_names
    world_extra = world_names_extra(scenario)  # outcomes and termination only
    problems = found if found is not None else []
    out: list[tuple[Loc, str, Any]] = []
    for name, action in scenario.actions.items():
        for key, expr in action.effects.items():
            loc: Loc = ("actions", name, "effects", key)
            if key not in scenario.world:
                problems.append((loc, f"'{key}' is not a world key"))
            out.append((loc, expr, frozenset()))
        for key, value in (action.arguments or {}).items():
            source = argument_expression(value)
            if source is not None:
                out.append((("actions", name, "arguments", key), source, frozenset()))
    for key, expr in scenario.dynamics.items():
        if key not in scenario.world:
            problems.append((("dynamics", key), f"'{key}' is not a world key"))
        out.append((("dynamics", key), expr, frozenset()))
    for name, outcome in scenario.outcomes.items():
        extra = agent_names if outcome.per_agent else frozenset()
        out.append((("outcomes", name), outcome.expr, extra | world_extra))
    for i, agent in enumerate(scenario.agents):
        if agent.objective:
            out.append((("agents", i, "objective"), agent.objective, agent_names))
    if scenario.termination.when:
        scalar = {n for n, o in scenario.outcomes.items() if not o.per_agent}
        out.append((("termination", "when"), scenario.termination.when, scalar | world_extra))
    return out


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    if isinstance(value, list):
        return "a list"
    return "a mapping" if isinstance(value, dict) else type(value).__name__


def warnings(scenario: Scenario) -> Found:
    """What validates but will likely fail at run time: a world key used as a number in an
    expression while it starts as text, null, a list or a mapping."""
    found: Found = []
    for loc, expr, _ in expressions(scenario):
        try:
            used = arithmetic_names(expr)
        except ExpressionError:
            continue
        for name in sorted(used & set(scenario.world)):
            value = scenario.world[name]
            if not isinstance(value, int | float):
                found.append(
                    (
                        loc,
                        f"'{name}' is used as a number here but world.{name} starts as "
                        f"{_kind(value)}; the run fails when this is evaluated",
                    )
                )
        for name in sorted(divisor_names(expr) & set(scenario.world)):
            if scenario.world[name] == 0 and not isinstance(scenario.world[name], bool):
                found.append(
                    (
                        loc,
                        f"divides by '{name}', and world.{name} starts as 0; the run fails "
                        "with a division by zero while it is 0",
                    )
                )
    return found
