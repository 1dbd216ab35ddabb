"""Topologies from the scenario file: the graphs each kind makes, their determinism, and
the problems a bad ``topology:`` is reported with (file, line, field, reason)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
import yaml

from aegntix.errors import ScenarioInvalid
from aegntix.model.loading import load_scenario, parse_scenario
from aegntix.swarm.topology import build

from .support import cast, swarm


def degrees(spec: dict[str, Any] | str, n: int = 8) -> dict[str, int]:
    return dict(build(swarm(n, spec)).graph().degree)


def test_ring_star_and_mesh() -> None:
    assert set(degrees("ring").values()) == {2}
    star = degrees({"kind": "star", "hub": "a3"})
    assert star["a3"] == 7 and {v for k, v in star.items() if k != "a3"} == {1}
    mesh = build(swarm(8, None))
    assert mesh.is_mesh and mesh.edges == () and nx.density(mesh.graph()) == 1.0


def test_hierarchy_levels_follow_the_chain() -> None:
    top = build(swarm(7, {"kind": "hierarchy", "branching": 2}))
    assert top.levels == {"a0": 0, "a1": 1, "a2": 1, "a3": 2, "a4": 2, "a5": 2, "a6": 2}
    assert nx.is_tree(top.graph())
    spec = {"kind": "hierarchy", "reports_to": {"a1": "a0", "a2": "a1", "a3": "a1"}}
    chain = build(swarm(4, spec))
    assert set(chain.edges) == {("a0", "a1"), ("a1", "a2"), ("a1", "a3")}
    assert chain.levels["a3"] == 2


def test_groups_hear_only_each_other_and_their_bridges() -> None:
    spec = {
        "kind": "groups",
        "groups": {"north": ["a0", "a1", "a2"], "south": ["a3", "a4", "a5"]},
        "bridges": [["a2", "a3"]],
    }
    g = build(swarm(6, spec)).graph()
    assert nx.is_connected(g)
    assert set(g.neighbors("a0")) == {"a1", "a2"}
    assert set(g.neighbors("a3")) == {"a2", "a4", "a5"}
    assert nx.number_connected_components(g.subgraph(set(g) - {"a2"})) == 2


def test_small_world_depends_on_the_seed_only() -> None:
    spec = {"kind": "small_world", "k": 4, "p": 0.3}
    first = build(swarm(30, spec, seed=5))
    assert build(swarm(30, spec, seed=5)).edges == first.edges
    assert build(swarm(30, {**spec, "seed": 5})).edges == first.edges  # its own seed wins
    assert build(swarm(30, spec, seed=6)).edges != first.edges
    assert len(first.edges) == 30 * 4 // 2  # Watts–Strogatz keeps n·k/2 edges
    scale = build(swarm(30, {"kind": "scale_free", "m": 2}, seed=1))
    assert len(scale.edges) == (30 - 2) * 2


def test_directed_edges_go_one_way() -> None:
    ring = build(swarm(5, {"kind": "ring", "directed": True})).graph()
    assert ring.is_directed() and ring.has_edge("a0", "a1") and not ring.has_edge("a1", "a0")
    listed = build(swarm(4, {"kind": "edges", "edges": [["a0", "a1"], ["a2", "a3"]]}))
    assert listed.edges == (("a0", "a1"), ("a2", "a3"))


def _problems(topology: Any, n: int = 5) -> list[tuple[str | None, int | None, str]]:
    text = yaml.safe_dump(
        {
            "name": "bad",
            "agents": cast(n),
            "termination": {"max_steps": 3},
            "topology": topology,
        },
        sort_keys=False,
    )
    with pytest.raises(ScenarioInvalid) as caught:
        parse_scenario(text, source="bad.yaml")
    assert all(p.file == "bad.yaml" for p in caught.value.problems)
    return [(p.field, p.line, p.reason) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("topology", "field", "reason"),
    [
        (
            {"kind": "small_world", "k": 5},
            "topology.k",
            "k (5) must be below the number of agents (5)",
        ),
        (
            {"kind": "scale_free", "m": 9},
            "topology.m",
            "m (9) must be below the number of agents (5)",
        ),
        (
            {"kind": "edges", "edges": [["a0", "zed"]]},
            "topology.edges.0.1",
            "unknown agent id 'zed'",
        ),
        ({"kind": "ring", "edges": [["a1", "a1"]]}, "topology.edges.0", "not 'a1' to itself"),
        ({"kind": "star", "hub": "boss"}, "topology.hub", "unknown agent id 'boss'"),
        ({"kind": "ring", "k": 2}, "topology.k", "not used by kind 'ring'"),
        (
            {"kind": "mesh", "edges": [["a0", "a1"]]},
            "topology.edges",
            "mesh already joins everyone",
        ),
        (
            {"kind": "groups", "groups": {"g": ["a0", "a1"]}},
            "topology.groups",
            "none for a2, a3, a4",
        ),
        ({"kind": "edges"}, "topology.edges", "needs at least one edge"),
        (
            {"kind": "hierarchy", "reports_to": {"a1": "a0", "a2": "a3", "a3": "a2", "a4": "a0"}},
            "topology.reports_to.a2",
            "a reporting cycle",
        ),
        ({"kind": "hierarchy", "reports_to": {"a1": "a0"}}, "topology.reports_to", "one top"),
        ({"kind": "lattice"}, "topology.kind", "Input should be"),
        ({"kind": "small_world", "p": 1.5}, "topology.p", "less than or equal to 1"),
    ],
)
def test_bad_topologies_are_reported_with_field_line_and_reason(
    topology: dict[str, Any], field: str, reason: str
) -> None:
    found = _problems(topology)
    matching = [(f, line, r) for f, line, r in found if f == field and reason in r]
    assert matching, found
    assert all(line is not None and line > 1 for _, line, _ in matching)


@pytest.mark.parametrize("name", ["rumour_small_world.yaml", "crisis_delphi.yaml"])
def test_a_dumped_scenario_with_a_topology_reads_back(name: str) -> None:
    # a dump carries every topology field at its default; reading it back must not call them
    # "not used by kind"
    scenario = load_scenario(Path(__file__).parents[2] / "examples" / name)
    again = parse_scenario(json.dumps(scenario.model_dump(mode="json")), as_json=True)
    assert again.topology == scenario.topology
