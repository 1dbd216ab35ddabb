"""What an agent sees: the world view, its own state, others' public state and the
recent events addressed to it (DESIGN §3; visibility rules live here and nowhere else)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from aegntix.brains.base import Observation, VisibleEvent
from aegntix.model.events import EventKind
from aegntix.model.outcomes import expression_names
from aegntix.model.scenario import ActionSpec, AgentSpec, Scenario
from aegntix.model.state import State

_VISIBLE_KINDS = frozenset({EventKind.MESSAGE, EventKind.ACTION, EventKind.INJECTION})
_NO_FIELDS: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class _Seen:
    event: VisibleEvent
    audience: frozenset[str] | None  # None: everyone


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
        targets = payload.get("targets")
        audience = frozenset(targets) if payload.get("strategy") == "direct" and targets else None
        text = str(payload.get("content", ""))
        urgency = payload.get("urgency")
        urgency = float(urgency) if isinstance(urgency, int | float) else None
        private = audience is not None
        return VisibleEvent(seq, step, kind, None, text, fields, None, urgency, private), audience
    to = payload.get("to")
    audience = frozenset([*to, agent_id or ""]) if to else None
    if kind == EventKind.ACTION:
        fields = MappingProxyType({**fields, "action": payload.get("action")})
    event = VisibleEvent(
        seq, step, kind, agent_id, str(payload.get("text", "")), fields, tuple(to) if to else None
    )
    return event, audience


class Window:
    """The recent, directly visible events of a branch (the last ``memory_window`` steps)."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self._seen: deque[_Seen] = deque()

    def add(
        self, seq: int, step: int, kind: str, agent_id: str | None, payload: Mapping[str, Any]
    ) -> None:
        visible = to_visible(seq, step, kind, agent_id, payload)
        if visible is not None:
            self._seen.append(_Seen(*visible))

    def extend(self, events: Iterable[Any]) -> None:
        for e in events:
            self.add(e.seq, e.step, e.kind, e.agent_id, e.payload)

    def advance(self, step: int) -> None:
        """Forget what is older than the window as seen from ``step``."""
        oldest = step - self.steps + 1
        while self._seen and self._seen[0].event.step < oldest:
            self._seen.popleft()

    def for_agent(self, agent_id: str) -> tuple[VisibleEvent, ...]:
        return tuple(s.event for s in self._seen if s.audience is None or agent_id in s.audience)


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


def observe(
    scenario: Scenario, state: State, agent_id: str, step: int, window: Window
) -> Observation:
    """Build one agent's observation from the current (in-step) state."""
    agent = scenario.agent(agent_id)
    drifted = state["agents"].get(agent_id, {}).get("traits")
    if drifted:  # the persona as experience has shaped it (aegntix.memory.persona)
        agent = _with_traits(agent, drifted)
    taken = state["world"].get("_actions_taken", {})
    actions: dict[str, ActionSpec] = {
        name: scenario.actions[name]
        for name in agent.actions
        if not (scenario.actions[name].once and name in taken)
    }
    agents = state["agents"]
    return Observation(
        scenario=scenario.name,
        topic=scenario.topic,
        step=step,
        max_steps=scenario.termination.max_steps,
        agent=agent,
        own=MappingProxyType(agents.get(agent_id, {})),
        world=MappingProxyType(expression_names(scenario, state)),
        others=MappingProxyType(
            {k: MappingProxyType(v) for k, v in agents.items() if k != agent_id}
        ),
        roster=MappingProxyType({a.id: a for a in scenario.agents}),
        visible=window.for_agent(agent_id),
        actions=MappingProxyType(actions),
        arguments=scenario.arguments_for(agent),
    )
