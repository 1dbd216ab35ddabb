"""What each agent may see and whom it may address, from the scenario's topology.

One :class:`Visibility` per run. Observation (``engine/observation.py``), memory
(``memory/stream.py``) and through them the prompts read other agents only through it:
messages and actions from the agents it hears, their states, aggregates over what it sees
(a local ``mean_stance``, not the world's), its roster, and the agents it may address.
``mesh`` (no topology) is today's behaviour exactly: everyone sees everyone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from aegntix.brains.base import Decision
from aegntix.model.events import EventKind, NewEvent
from aegntix.model.outcomes import expression_names
from aegntix.model.scenario import AgentSpec, Scenario
from aegntix.model.state import State
from aegntix.swarm.topology import Topology, build

_SPOKEN = frozenset({EventKind.MESSAGE, EventKind.ACTION})


class Visibility:
    """Who sees what in one run. Cheap per call: neighbourhoods are computed once, so an
    observation costs the agent's degree, not the number of agents."""

    def __init__(self, scenario: Scenario, topology: Topology | None = None) -> None:
        self.scenario = scenario
        self.topology = topology if topology is not None else build(scenario)
        self.mesh = self.topology.is_mesh
        self._specs: dict[str, AgentSpec] = {a.id: a for a in scenario.agents}
        order = {a.id: i for i, a in enumerate(scenario.agents)}
        everyone = MappingProxyType(dict(self._specs))
        ids = tuple(self._specs)
        self._hears: dict[str, tuple[str, ...]] = {}
        self._reaches: dict[str, frozenset[str]] = {}
        self._audience: dict[str, frozenset[str]] = {}
        self._rosters: dict[str, Mapping[str, AgentSpec]] = {}
        self._seen: dict[str, tuple[str, ...]] = {}  # itself, then whom it hears
        # Per agent, for one state's agents dict: the views ``others`` returns and the
        # agents ``names`` reads. An agent's state dict is created once and patched in place
        # (``model.state``), so both stay right for as long as that agents dict is the one.
        self._others: dict[str, tuple[dict[str, Any], Mapping[str, Mapping[str, Any]]]] = {}
        self._near: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        if self.mesh:
            self._everyone = everyone
            self._all_ids = ids
            return
        hears: dict[str, set[str]] = {a: set() for a in ids}
        reaches: dict[str, set[str]] = {a: set() for a in ids}
        for a, b in self.topology.edges:
            reaches[a].add(b)
            hears[b].add(a)
            if not self.topology.directed:
                reaches[b].add(a)
                hears[a].add(b)
        for a in ids:
            self._hears[a] = tuple(sorted(hears[a], key=order.__getitem__))
            self._seen[a] = (a, *self._hears[a])
            self._reaches[a] = frozenset(reaches[a])
            self._audience[a] = frozenset(reaches[a] | {a})
            known = sorted(hears[a] | reaches[a] | {a}, key=order.__getitem__)
            self._rosters[a] = MappingProxyType({x: self._specs[x] for x in known})
        self._everyone = everyone
        self._all_ids = ids

    # -- who ------------------------------------------------------------------------------

    def spec(self, agent_id: str) -> AgentSpec:
        return self._specs[agent_id]

    def heard(self, agent_id: str) -> Sequence[str]:
        """The other agents ``agent_id`` hears (whose words and states reach it), in file
        order."""
        if self.mesh:
            return tuple(a for a in self._all_ids if a != agent_id)
        return self._hears.get(agent_id, ())

    def roster(self, agent_id: str) -> Mapping[str, AgentSpec]:
        """The agents it knows of: itself, whom it hears and whom it may address."""
        if self.mesh:
            return self._everyone
        return self._rosters.get(agent_id, MappingProxyType({}))

    # -- what -----------------------------------------------------------------------------

    def others(self, agent_id: str, state: State) -> Mapping[str, Mapping[str, Any]]:
        """The public state of the agents it hears."""
        agents = state["agents"]
        if self.mesh:
            return MappingProxyType(
                {k: MappingProxyType(v) for k, v in agents.items() if k != agent_id}
            )
        hit = self._others.get(agent_id)
        if hit is not None and hit[0] is agents:
            return hit[1]
        hears = self._hears.get(agent_id, ())
        made = MappingProxyType({k: MappingProxyType(agents[k]) for k in hears if k in agents})
        if len(made) == len(hears):  # all of them have a state: nobody joins later
            self._others[agent_id] = (agents, made)
        return made

    def local_state(self, agent_id: str, state: State) -> State:
        """``state`` as far as ``agent_id`` sees it: the world, itself and whom it hears."""
        if self.mesh:
            return state
        agents = state["agents"]
        seen = self._seen.get(agent_id) or (agent_id,)
        return {**state, "agents": {k: agents[k] for k in seen if k in agents}}

    def names(self, agent_id: str, state: State) -> dict[str, Any]:
        """What an expression sees from where the agent stands: world keys, and built-in
        aggregates (``mean_stance``…) over the agents it sees, never the whole cast."""
        if self.mesh:
            return expression_names(self.scenario, state)
        agents = state["agents"]
        hit = self._near.get(agent_id)
        if hit is not None and hit[0] is agents:
            near = hit[1]
        else:
            seen = self._seen.get(agent_id) or (agent_id,)
            near = {k: agents[k] for k in seen if k in agents}
            if len(near) == len(seen):  # as in ``others``: the same dicts from now on
                self._near[agent_id] = (agents, near)
        return expression_names(self.scenario, {**state, "agents": near})

    def audience(
        self, kind: str, agent_id: str | None, addressed: frozenset[str] | None
    ) -> frozenset[str] | None:
        """Who sees an event (None: everyone) given who it was addressed to."""
        if self.mesh or kind not in _SPOKEN or agent_id is None:
            return addressed
        near = self._audience.get(agent_id, frozenset({agent_id}))
        return near if addressed is None else addressed & near

    # -- addressing -----------------------------------------------------------------------

    def strangers(self, agent_id: str, to: Sequence[str] | None) -> list[str]:
        """The addressees ``agent_id`` may not address (not along an edge)."""
        if self.mesh or not to:
            return []
        reach = self._reaches.get(agent_id, frozenset())
        return [t for t in to if t not in reach]

    def addressed(
        self, agent_id: str, step: int, decision: Decision
    ) -> tuple[Decision, NewEvent | None]:
        """``decision`` as it may be carried out, and the rejection to record if its message
        was addressed off the graph (the message is not delivered; the rest of the decision,
        a stance or an offer, stands)."""
        if decision.action != "say":
            return decision, None
        off = self.strangers(agent_id, decision.to)
        if not off:
            return decision, None
        who = ", ".join(f"'{x}'" for x in off)
        reason = (
            f"message not delivered: {who} is not a neighbour of '{agent_id}' in the "
            f"{self.topology.kind} topology (a message is addressed along an edge only)"
        )
        rejected = NewEvent(
            step, EventKind.SYSTEM, {"type": "rejected", "reason": reason}, agent_id
        )
        kept = decision.model_copy(update={"action": "pass", "content": "", "to": None})
        return kept, rejected
