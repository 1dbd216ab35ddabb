"""Builders for hand-made observations: a brain is tested without the engine."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from aegntix.brains.base import Observation, VisibleEvent
from aegntix.model.scenario import ActionSpec, AgentSpec

MakeAgent = Callable[..., AgentSpec]
MakeObs = Callable[..., Observation]
MakeEvent = Callable[..., VisibleEvent]


def make_agent(
    agent_id: str,
    *,
    name: str | None = None,
    role: str = "participant",
    goals: Iterable[str] = (),
    stance: float | None = None,
    negotiation: Mapping[str, Any] | None = None,
    actions: Iterable[str] = (),
    objective: str | None = None,
    **persona: Any,
) -> AgentSpec:
    """An agent; Big Five traits as keyword arguments (``agreeableness=0.9``)."""
    return AgentSpec.model_validate(
        {
            "id": agent_id,
            "name": name or agent_id.capitalize(),
            "role": role,
            "goals": list(goals),
            "stance": stance,
            "negotiation": dict(negotiation) if negotiation else None,
            "actions": list(actions),
            "objective": objective,
            "persona": persona,
        }
    )


def make_event(
    step: int,
    text: str = "",
    *,
    agent: str | None = None,
    kind: str | None = None,
    seq: int = 0,
    to: Iterable[str] | None = None,
    **fields: Any,
) -> VisibleEvent:
    """A visible event; an event without ``agent`` is an injection unless ``kind`` says."""
    return VisibleEvent(
        seq=seq,
        step=step,
        kind=kind or ("injection" if agent is None else "message"),
        agent_id=agent,
        text=text,
        fields=MappingProxyType(fields),
        to=tuple(to) if to is not None else None,
    )


def make_observation(
    agent: AgentSpec,
    others: Iterable[AgentSpec] = (),
    *,
    step: int = 1,
    max_steps: int | None = 20,
    topic: str = "the park plan",
    own: Mapping[str, Any] | None = None,
    states: Mapping[str, Mapping[str, Any]] | None = None,
    world: Mapping[str, Any] | None = None,
    visible: Iterable[VisibleEvent] = (),
    actions: Mapping[str, ActionSpec] | None = None,
) -> Observation:
    """An observation for ``agent``. ``states`` gives other agents' public state (by id),
    defaulting to their spec stance and no offer; ``world`` gets the built-in names."""
    cast = [agent, *others]
    public = {a.id: {"stance": a.stance, "offer": None} for a in cast}
    for agent_id, state in (states or {}).items():
        public[agent_id] = {**public.get(agent_id, {}), **state}
    mine = {**public[agent.id], **(own or {})}
    stances = [
        s["stance"] for s in [mine, *(public[a.id] for a in others)] if s["stance"] is not None
    ]
    names: dict[str, Any] = dict(world or {})
    names.update(
        step=step,
        max_steps=max_steps,
        n_agents=len(cast),
        mean_stance=statistics.fmean(stances) if stances else 0.0,
        min_stance=min(stances, default=0.0),
        max_stance=max(stances, default=0.0),
        stance_spread=(max(stances) - min(stances)) if stances else 0.0,
    )
    return Observation(
        scenario="test",
        topic=topic,
        step=step,
        max_steps=max_steps,
        agent=agent,
        own=MappingProxyType(mine),
        world=MappingProxyType(names),
        others=MappingProxyType(
            {a.id: MappingProxyType(public[a.id]) for a in others if a.id != agent.id}
        ),
        roster=MappingProxyType({a.id: a for a in cast}),
        visible=tuple(visible),
        actions=MappingProxyType(dict(actions or {})),
    )
