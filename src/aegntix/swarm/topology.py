"""A scenario's ``topology:`` as a graph of its agents (networkx), generated from the spec
and a seed only, so every run, replay and fork of a scenario has the same one.

An edge ``(a, b)`` means *b hears a* and *a may address b*; an undirected edge means both.
Nodes are agent ids; generators work on positions in the file's agent order.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aegntix.model.scenario import Scenario
from aegntix.model.topology import TopologySpec

if TYPE_CHECKING:
    import networkx as nx  # imported where used: most runs have no topology to generate

#: Bumped if generation ever changes; recorded with the edges in the start event.
GENERATOR_VERSION = 1


@dataclass(frozen=True, slots=True)
class Topology:
    """Who hears whom in one scenario. ``edges`` are in a canonical order (by the agents'
    positions; an undirected edge once, lower position first)."""

    kind: str
    directed: bool
    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    #: hierarchy: the depth of each agent (0 at the top); groups: each agent's groups
    levels: Mapping[str, int] = field(default_factory=dict)
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def is_mesh(self) -> bool:
        return self.kind == "mesh"

    def payload(self) -> dict[str, Any]:
        """The recorded form (the start event of a branch with a topology)."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "directed": self.directed,
            "generator": GENERATOR_VERSION,
            "edges": [list(e) for e in self.edges],
        }
        if self.levels:
            out["levels"] = dict(self.levels)
        if self.groups:
            out["groups"] = {k: list(v) for k, v in self.groups.items()}
        return out

    @classmethod
    def from_payload(cls, nodes: Sequence[str], data: Mapping[str, Any]) -> Topology:
        return cls(
            kind=str(data["kind"]),
            directed=bool(data.get("directed", False)),
            nodes=tuple(nodes),
            edges=tuple((str(a), str(b)) for a, b in data.get("edges", ())),
            levels={str(k): int(v) for k, v in (data.get("levels") or {}).items()},
            groups={str(k): tuple(v) for k, v in (data.get("groups") or {}).items()},
        )

    def graph(self) -> nx.Graph[str]:
        """As a networkx graph (a ``DiGraph`` when directed); mesh: the complete graph."""
        import networkx as nx

        g: nx.Graph[str] = nx.DiGraph() if self.directed else nx.Graph()
        g.add_nodes_from(self.nodes)
        if self.is_mesh:
            g.add_edges_from((a, b) for i, a in enumerate(self.nodes) for b in self.nodes[i + 1 :])
            if self.directed:
                g.add_edges_from((b, a) for a, b in list(g.edges))
        else:
            g.add_edges_from(self.edges)
        return g


def topology_seed(scenario: Scenario) -> int:
    spec = scenario.topology
    return scenario.seed if spec is None or spec.seed is None else spec.seed


def build(scenario: Scenario) -> Topology:
    """The scenario's topology, generated (validated scenarios only: ids and sizes checked)."""
    nodes = tuple(a.id for a in scenario.agents)
    spec = scenario.topology or TopologySpec()
    if spec.is_mesh:
        return Topology("mesh", spec.directed, nodes, ())
    seed = topology_seed(scenario)
    pairs, levels, groups = _generate(spec, nodes, seed)
    pairs = [*pairs, *((a, b) for a, b in spec.edges)]
    return Topology(
        spec.kind, spec.directed, nodes, _canonical(pairs, nodes, spec.directed), levels, groups
    )


def _generate(
    spec: TopologySpec, nodes: tuple[str, ...], seed: int
) -> tuple[list[tuple[str, str]], dict[str, int], dict[str, tuple[str, ...]]]:
    n = len(nodes)
    levels: dict[str, int] = {}
    groups: dict[str, tuple[str, ...]] = {}
    pairs: list[tuple[str, str]]
    if spec.kind == "ring":
        pairs = [(nodes[i], nodes[(i + 1) % n]) for i in range(n)] if n > 1 else []
    elif spec.kind == "star":
        hub = spec.hub or nodes[0]
        pairs = [(hub, v) for v in nodes if v != hub]
    elif spec.kind == "hierarchy":
        boss = dict(spec.reports_to) or {
            nodes[i]: nodes[(i - 1) // (spec.branching or 2)] for i in range(1, n)
        }
        pairs = [(boss[v], v) for v in nodes if v in boss]  # down the chain; undirected: both
        levels = {v: _depth(v, boss) for v in nodes}
    elif spec.kind in ("small_world", "scale_free"):
        import networkx as nx

        if spec.kind == "small_world":
            k = 4 if spec.k is None else spec.k
            p = 0.1 if spec.p is None else spec.p
            g = nx.watts_strogatz_graph(n, k, p, seed=seed)
        else:
            g = nx.barabasi_albert_graph(n, 2 if spec.m is None else spec.m, seed=seed)
        undirected = sorted((min(a, b), max(a, b)) for a, b in g.edges)
        if spec.directed:  # each link one way, drawn from the seed
            rng = random.Random(f"{seed}/topology")
            undirected = [(a, b) if rng.random() < 0.5 else (b, a) for a, b in undirected]
        pairs = [(nodes[a], nodes[b]) for a, b in undirected]
    elif spec.kind == "groups":
        pairs = []
        for name, members in spec.groups.items():
            ordered = list(dict.fromkeys(members))
            groups[name] = tuple(ordered)
            pairs += [(a, b) for a in ordered for b in ordered if a != b]
        pairs += [(a, b) for a, b in spec.bridges]
    else:  # "edges": only the listed ones (added by the caller)
        pairs = []
    return pairs, levels, groups


def _depth(agent: str, boss: Mapping[str, str]) -> int:
    depth = 0
    while agent in boss:
        agent = boss[agent]
        depth += 1
    return depth


def _canonical(
    pairs: Iterable[tuple[str, str]], nodes: Sequence[str], directed: bool
) -> tuple[tuple[str, str], ...]:
    at = {v: i for i, v in enumerate(nodes)}
    seen: set[tuple[int, int]] = set()
    for a, b in pairs:
        if a == b:
            continue
        i, j = at[a], at[b]
        seen.add((i, j) if directed or i < j else (j, i))
    return tuple((nodes[i], nodes[j]) for i, j in sorted(seen))
