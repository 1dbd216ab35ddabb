"""The organic strategy's plan against a reference computed on the graph itself (networkx):
who hears it at offset k is exactly the agents at BFS distance k from the first hearers over
the edges that carry it, for generated topologies, seeds, chances and hop limits."""

from __future__ import annotations

from typing import Any

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aegntix.errors import InvalidRequest
from aegntix.inject.base import Spread
from aegntix.inject.organic import MAX_HOPS, Organic, everyone_else, neighbours_of, passes
from aegntix.inject.preview import preview
from aegntix.inject.registry import STRATEGIES, hearing
from aegntix.inject.strategies import validated
from aegntix.model.scenario import Scenario
from aegntix.swarm.topology import build
from tests.swarm.support import swarm
from tests.swarm.test_visibility import topologies

ORGANIC = STRATEGIES["organic"]
TEXT = "The plant signed a new ten-year contract."


def _payload(scenario: Scenario, targets: list[str] | None, schedule: Any) -> dict[str, Any]:
    payload, _ = validated(scenario, TEXT, targets, "organic", None, None, 0.5, schedule=schedule)
    return payload


def _reference(
    scenario: Scenario, seeds: list[str], source: str, seed: int, step: int, p: float, hops: int
) -> dict[str, int]:
    """agent -> offset it first hears it: multi-source BFS over the live edges (networkx)."""
    g = build(scenario).graph()
    live = nx.DiGraph()
    live.add_nodes_from(g.nodes)
    arcs = g.edges if g.is_directed() else [*g.edges, *((b, a) for a, b in g.edges)]
    live.add_edges_from((a, b) for a, b in arcs if passes(seed, step, a, b, p))
    if source.startswith("agent:"):
        live.remove_node(source[6:])  # the source already knows: it is never told
    dist = nx.multi_source_dijkstra_path_length(live, set(seeds))  # unit weights: BFS
    return {a: int(d) for a, d in dist.items() if d <= hops}


@settings(max_examples=60, deadline=None)
@given(
    topologies(),
    st.integers(0, 2**40),
    st.integers(1, 9),
    st.sampled_from([1.0, 0.5, 0.2]),
    st.integers(1, MAX_HOPS),
    st.data(),
)
def test_at_each_offset_exactly_the_agents_on_the_spread_path_hear_it(
    topology: tuple[int, dict[str, Any]],
    seed: int,
    step: int,
    p: float,
    hops: int,
    data: st.DataObject,
) -> None:
    n, spec = topology
    scenario = swarm(n, spec)
    ids = [a.id for a in scenario.agents]
    source = data.draw(st.sampled_from(["news", *(f"agent:{a}" for a in ids)]))
    pool = [a for a in ids if f"agent:{a}" != source]
    targets = data.draw(st.none() | st.lists(st.sampled_from(pool), min_size=1, unique=True))
    payload = _payload(scenario, targets, {"source": source, "p": p, "max_steps": hops})
    spread = Spread(scenario, seed, step, neighbours_of(build(scenario)))
    seeds = Organic().seeds(payload, spread)
    expected = _reference(scenario, seeds, source, seed, step, p, hops)
    waves = ORGANIC.plan(payload, spread)
    got = {a: w.offset for w in waves for a in w.agents or ()}
    assert got == expected
    assert sum(len(w.agents or ()) for w in waves) == len(got)  # each agent hears it once
    # the first hearers: the targets, else the source's neighbours, else one drawn agent
    if targets:
        assert seeds == sorted(targets)
    elif source != "news" and (heard := (spread.neighbours or everyone_else(scenario))[source[6:]]):
        assert seeds == sorted(heard)
    else:
        assert len(seeds) == 1 and seeds[0] in pool
    # deterministic from the branch seed and step: planned twice, the same plan
    assert ORGANIC.plan(payload, spread) == waves


def test_on_a_mesh_everyone_hears_it_one_step_after_the_first_hearer() -> None:
    scenario = swarm(6, None)
    payload = _payload(scenario, ["a2"], None)
    waves = ORGANIC.plan(payload, Spread(scenario, 7, 1, None))
    assert [(w.offset, w.agents) for w in waves] == [
        (0, ("a2",)),
        (1, ("a0", "a1", "a3", "a4", "a5")),
    ]


def test_the_recorded_waves_say_who_told_whom_in_world_words() -> None:
    scenario = swarm(5, {"kind": "ring"})  # a0-a1-a2-a3-a4-a0
    payload = _payload(scenario, None, {"source": "agent:a0", "max_steps": 1})
    spread = Spread(scenario, 3, 2, neighbours_of(build(scenario)))
    recorded = ORGANIC.record(payload, spread)
    assert recorded["told"] == TEXT
    assert recorded["content"] == f"Agent 0 mentions: {TEXT}"
    assert [(w["offset"], w["agents"], w["via"]) for w in recorded["waves"]] == [
        (0, ["a1", "a4"], "agent:a0"),
        (1, ["a2"], "a1"),
        (1, ["a3"], "a4"),
    ]
    assert recorded["waves"][1]["content"] == f"Agent 1 passes on: {TEXT}"
    assert hearing(recorded, 2).agents == {"a1", "a4"}
    due = ORGANIC.due(recorded, 40, 2, 3)
    assert [(d["targets"], d["content"], d["wave"]) for d in due] == [
        (["a2"], f"Agent 1 passes on: {TEXT}", {"of": 40, "offset": 1, "via": "a1"}),
        (["a3"], f"Agent 4 passes on: {TEXT}", {"of": 40, "offset": 1, "via": "a4"}),
    ]
    assert hearing(due[0], 3).agents == {"a2"} and not hearing(due[0], 3).private
    assert ORGANIC.due(recorded, 40, 2, 4) == [] and ORGANIC.span(recorded) == 1
    news = ORGANIC.record(_payload(scenario, ["a2"], None), spread)
    assert news["content"] == f"In the news: {TEXT}"


@pytest.mark.parametrize(
    ("targets", "schedule", "message"),
    [
        (None, {"source": "agent:nobody"}, r"^schedule.source: 'agent:nobody' is not 'news'"),
        (None, {"source": "radio"}, r"^schedule.source: 'radio'"),
        (None, {"p": 0}, r"^schedule.p: a chance above 0"),
        (None, {"p": 1.5}, r"^schedule.p:"),
        (None, {"max_steps": 0}, r"^schedule.max_steps: a whole number from 1 to"),
        (None, {"max_steps": MAX_HOPS + 1}, r"^schedule.max_steps:"),
        (None, {"steps": 3}, r"^schedule.steps: an organic injection takes source, p"),
        (["a1"], {"source": "agent:a1"}, r"^targets: the source agent cannot be"),
    ],
)
def test_a_bad_organic_request_names_its_field(
    targets: list[str] | None, schedule: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message):
        _payload(swarm(4, {"kind": "ring"}), targets, schedule)


def test_the_preview_follows_the_topology() -> None:
    scenario = swarm(5, {"kind": "ring"})
    found = preview(
        scenario, TEXT, strategy="organic", schedule={"source": "agent:a0"}, seed=1, step=4
    )
    assert found.strategy == "organic"
    assert found.schedule == [(4, ["a1", "a4"]), (5, ["a2", "a3"])]
    assert {a.agent_id: a.step for a in found.agents} == {"a1": 4, "a4": 4, "a2": 5, "a3": 5}
