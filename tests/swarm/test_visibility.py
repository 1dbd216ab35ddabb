"""What agents see on a topology, checked against the graph itself (networkx), over
generated topologies and seeds: nobody hears a non-neighbour, states and aggregates are
local, and a message addressed off the graph is rejected in the transcript."""

from __future__ import annotations

import random
import statistics
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aegntix.brains.base import Decision, Observation
from aegntix.model.events import EventKind
from aegntix.model.topology import KINDS
from aegntix.swarm.topology import build
from aegntix.timeline import open_sqlite_store

from .support import run_with, swarm


@st.composite
def topologies(draw: st.DrawFn) -> tuple[int, dict[str, Any]]:
    kind = draw(st.sampled_from(KINDS))
    n = draw(st.integers(3, 9))
    ids = [f"a{i}" for i in range(n)]
    pair = st.tuples(st.sampled_from(ids), st.sampled_from(ids)).filter(lambda p: p[0] != p[1])
    spec: dict[str, Any] = {
        "kind": kind,
        "directed": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**40)),
    }
    if kind == "small_world":
        spec["k"] = draw(st.integers(2, n - 1))
        spec["p"] = draw(st.floats(0, 1))
    elif kind == "scale_free":
        spec["m"] = draw(st.integers(1, n - 1))
    elif kind == "star":
        spec["hub"] = draw(st.sampled_from(ids))
    elif kind == "hierarchy":
        spec["branching"] = draw(st.integers(1, 4))
    elif kind == "groups":
        count = draw(st.integers(1, 3))
        where = [draw(st.integers(0, count - 1)) for _ in ids]
        groups = {
            f"g{j}": [a for a, w in zip(ids, where, strict=True) if w == j] for j in range(count)
        }
        spec["groups"] = {k: v for k, v in groups.items() if v}
        spec["bridges"] = draw(st.lists(pair, max_size=3))
    if kind == "edges" or (kind != "mesh" and draw(st.booleans())):
        spec["edges"] = draw(st.lists(pair, min_size=1, max_size=2 * n))
    return n, spec


def _decide(cast: list[str], made: list[tuple[str, Decision]]) -> Any:
    def fn(obs: Observation, rng: random.Random) -> Decision:
        me = obs.agent.id
        to = None
        if rng.random() < 0.5:  # anyone in the cast, neighbour or not
            to = rng.sample([a for a in cast if a != me], k=min(2, len(cast) - 1))
        stance = max(-1.0, min(1.0, float(obs.own.get("stance") or 0) + rng.uniform(-0.2, 0.2)))
        decision = Decision(action="say", content=f"{me} speaks", to=to, stance=round(stance, 4))
        made.append((me, decision))
        return decision

    return fn


@given(topologies(), st.booleans())
def test_nobody_hears_a_non_neighbour(
    tmp_path_factory: pytest.TempPathFactory, generated: tuple[int, dict[str, Any]], memory: bool
) -> None:
    n, spec = generated
    extra = {"memory": {"enabled": True, "embedder": "hash"}} if memory else {}
    scenario = swarm(n, spec, **extra)
    graph = build(scenario).graph()  # the reference: networkx's view of the edges
    cast = [a.id for a in scenario.agents]
    made: list[tuple[str, Decision]] = []
    store = open_sqlite_store(Path(tmp_path_factory.mktemp("swarm")) / "t.db")
    try:
        branch_id, seen = run_with(store, scenario, _decide(cast, made), steps=3)
        events = list(store.events(branch_id))
    finally:
        store.close()

    def hears(listener: str) -> set[str]:
        if graph.is_directed():
            return set(graph.predecessors(listener))
        return set(graph.neighbors(listener))

    def reaches(speaker: str) -> set[str]:
        return (
            set(graph.successors(speaker)) if graph.is_directed() else set(graph.neighbors(speaker))
        )

    assert len(seen) == 3 * n
    for obs in seen:
        me = obs.agent.id
        for e in obs.visible:
            if e.kind in ("message", "action"):
                assert e.agent_id == me or e.agent_id in hears(me), (me, e)
                assert not e.to or me in e.to or e.agent_id == me
        assert set(obs.others) == hears(me)
        assert set(obs.roster) == hears(me) | reaches(me) | {me}
        local = [float(obs.own["stance"]), *(float(v["stance"]) for v in obs.others.values())]
        assert obs.world["mean_stance"] == pytest.approx(statistics.fmean(local))

    # a message is delivered along an edge only; every other one is a visible rejection
    off_graph = [(me, d) for me, d in made if d.to and any(t not in reaches(me) for t in d.to)]
    rejected = [
        e for e in events if e.kind == EventKind.SYSTEM and e.payload.get("type") == "rejected"
    ]
    assert len(rejected) == len(off_graph)
    assert [e.agent_id for e in rejected] == [me for me, _ in off_graph]
    for e in events:
        if e.kind == EventKind.MESSAGE and e.payload.get("to"):
            assert all(t in reaches(e.agent_id or "") for t in e.payload["to"])
    start = events[0].payload
    if spec["kind"] != "mesh":
        assert [tuple(x) for x in start["topology"]["edges"]] == list(build(scenario).edges)


def test_a_prompt_names_only_the_agents_it_knows(tmp_path: Path) -> None:
    from aegntix.brains.prompting import user_prompt

    scenario = swarm(8, "ring")
    store = open_sqlite_store(tmp_path / "t.db")
    try:
        say = Decision(action="say", content="hello")
        _, seen = run_with(store, scenario, lambda obs, rng: say, steps=2)
    finally:
        store.close()
    a0 = [obs for obs in seen if obs.agent.id == "a0"][-1]
    prompt = user_prompt(a0)
    assert "(id a1)" in prompt and "(id a7)" in prompt
    assert not any(f"(id a{i})" in prompt for i in range(2, 7))
    assert "Agent 4" not in prompt  # nobody a0 does not hear is quoted either
