"""The topology a branch runs with: the one recorded in its lineage's start event (so a
replay or fork never depends on how a newer networkx would generate it), else built."""

from __future__ import annotations

from aegntix.model.events import EventKind
from aegntix.model.scenario import Scenario
from aegntix.swarm.topology import Topology, build
from aegntix.timeline.store import Store


def recorded_topology(store: Store, branch_id: str, scenario: Scenario) -> Topology:
    """The branch's topology (mesh without reading anything when the scenario has none)."""
    spec = scenario.topology
    if spec is None or spec.is_mesh:
        return build(scenario)
    head = list(store.events(branch_id, to_seq=1))
    first = head[0] if head else None
    data = first.payload.get("topology") if first is not None else None
    if first is None or first.kind != EventKind.SYSTEM or not isinstance(data, dict):
        return build(scenario)
    return Topology.from_payload([a.id for a in scenario.agents], data)
