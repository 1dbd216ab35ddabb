"""What an agent sees: the world view, its own state, others' public state and the
recent events addressed to it — each as the run's ``Visibility`` (``aegntix.swarm``)
allows: from the agents it hears, with aggregates over what it sees."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from heapq import merge
from types import MappingProxyType
from typing import Any

from aegntix.brains.base import Observation, VisibleEvent
from aegntix.inject.registry import hearing
from aegntix.mechanics import mechanics_of
from aegntix.model.events import EventKind
from aegntix.model.scenario import ActionSpec, AgentSpec, Scenario
from aegntix.model.state import State
from aegntix.swarm.visibility import Visibility

_VISIBLE_KINDS = frozenset({EventKind.MESSAGE, EventKind.ACTION, EventKind.INJECTION})
_NO_FIELDS: Mapping[str, Any] = MappingProxyType({})
_NO_ACTIONS: Mapping[str, ActionSpec] = MappingProxyType({})


def to_visible(
    seq: int, step: int, kind: str, agent_id: str | None, payload: Mapping[str, Any]
) -> tuple[VisibleEvent, frozenset[str] | None] | None:
    """The visible form of an event and who may see it; None if nobody sees it directly."""
    if kind not in _VISIBLE_KINDS:
        return None
    fields = (
        MappingProxyType(dict(payload.get("fields") or {})) if payload.get("fields") else _NO_FIELDS
    )
    if kind == EventKind.INJECTION:
        heard = hearing(payload, step)  # the injection's strategy says who hears it
        text = str(payload.get("content", ""))
        urgency = payload.get("urgency")
        urgency = float(urgency) if isinstance(urgency, int | float) else None
        event = VisibleEvent(seq, step, kind, None, text, fields, None, urgency, heard.private)
        return event, heard.agents
    to = payload.get("to")
    audience = frozenset([*to, agent_id or ""]) if to else None
    if kind == EventKind.ACTION:
        fields = MappingProxyType({**fields, "action": payload.get("action")})
    event = VisibleEvent(
        seq, step, kind, agent_id, str(payload.get("text", "")), fields, tuple(to) if to else None
    )
    return event, audience


class Window:
    """The recent, directly visible events of a branch (the last ``memory_window`` steps),
    as each agent sees them (``visibility``: who hears whom; None: everyone, the mesh).
    Events everyone sees are kept once; the others in the inbox of each who sees them, so
    reading an agent's window costs what it sees, not what the branch holds."""

    def __init__(self, steps: int, visibility: Visibility | None = None) -> None:
        self.steps = steps
        self.visibility = visibility
        self._public: deque[VisibleEvent] = deque()
        self._inbox: dict[str, deque[VisibleEvent]] = {}

    def add(
        self, seq: int, step: int, kind: str, agent_id: str | None, payload: Mapping[str, Any]
    ) -> None:
        visible = to_visible(seq, step, kind, agent_id, payload)
        if visible is None:
            return
        event, audience = visible
        if self.visibility is not None:
            audience = self.visibility.audience(kind, agent_id, audience)
        if audience is None:
            self._public.append(event)
            return
        for who in audience:
            box = self._inbox.get(who)
            if box is None:
                box = self._inbox[who] = deque()
            box.append(event)

    def extend(self, events: Iterable[Any]) -> None:
        for e in events:
            self.add(e.seq, e.step, e.kind, e.agent_id, e.payload)

    def advance(self, step: int) -> None:
        """Forget what is older than the window as seen from ``step``."""
        oldest = step - self.steps + 1
        for box in (self._public, *self._inbox.values()):
            while box and box[0].step < oldest:
                box.popleft()

    def for_agent(self, agent_id: str) -> tuple[VisibleEvent, ...]:
        box = self._inbox.get(agent_id)
        if not box:
            return tuple(self._public)
        if not self._public:
            return tuple(box)
        return tuple(merge(self._public, box, key=_by_seq))


def _by_seq(event: VisibleEvent) -> int:
    return event.seq


#: (id of the spec, traits) -> (the spec, the drifted spec). Keeping the spec alive keeps its
#: id from being reused; one object per drift keeps an LLM brain's system-prompt cache valid.
_drifted: dict[tuple[int, tuple[tuple[str, Any], ...]], tuple[AgentSpec, AgentSpec]] = {}


def _with_traits(agent: AgentSpec, traits: Mapping[str, Any]) -> AgentSpec:
    """``agent`` with its persona's Big Five replaced by ``traits`` (the same object for the
    same drift: this runs for every decision of a drifted agent)."""
    key = (id(agent), tuple(sorted(traits.items())))
    hit = _drifted.get(key)
    if hit is not None and hit[0] is agent:
        return hit[1]
    if len(_drifted) >= 4096:
        _drifted.clear()
    persona = agent.persona.model_copy(update=dict(traits))
    made = agent.model_copy(update={"persona": persona})
    _drifted[key] = (agent, made)
    return made


#: A mesh Visibility per scenario for callers that pass none (tests, benchmarks).
_meshes: dict[int, tuple[Scenario, Visibility]] = {}


def _mesh_of(scenario: Scenario) -> Visibility:
    hit = _meshes.get(id(scenario))
    if hit is not None and hit[0] is scenario:
        return hit[1]
    if len(_meshes) >= 256:
        _meshes.clear()
    made = Visibility(scenario)
    _meshes[id(scenario)] = (scenario, made)
    return made


def observe(
    scenario: Scenario, state: State, agent_id: str, step: int, window: Window
) -> Observation:
    """Build one agent's observation from the current (in-step) state, as the window's
    visibility lets it see (none: the mesh, everyone)."""
    seen = window.visibility or _mesh_of(scenario)
    agent = seen.spec(agent_id)
    own = state["agents"].get(agent_id, {})
    drifted = own.get("traits")
    if drifted:  # the persona as experience has shaped it (aegntix.memory.persona)
        agent = _with_traits(agent, drifted)
    if agent.actions:
        taken = state["world"].get("_actions_taken", {})
        actions: Mapping[str, ActionSpec] = MappingProxyType(
            {
                name: scenario.actions[name]
                for name in agent.actions
                if not (scenario.actions[name].once and name in taken)
            }
        )
    else:  # most agents of a swarm have none: skip building an empty mapping
        actions = _NO_ACTIONS
    return Observation(
        scenario.name,
        scenario.topic,
        step,
        scenario.termination.max_steps,
        agent,
        MappingProxyType(own),
        MappingProxyType(seen.names(agent_id, state)),
        seen.others(agent_id, state),
        seen.roster(agent_id),
        window.for_agent(agent_id),
        actions,
        arguments=scenario.arguments_for(agent),
        mechanics=mechanics_of(scenario),
    )
