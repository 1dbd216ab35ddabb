"""An organic injection in a run: at step k after it lands, exactly the agents within k hops
of the first hearers (a reference BFS over the branch's recorded graph, networkx) have seen
it, each first at its own step; a fork at any step of the spread inherits what is pending
and reproduces its parent (invariant 3); a fork before it never hears it (invariant 5)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import networkx as nx
from hypothesis import given
from hypothesis import strategies as st

from aegntix.brains.base import Decision, Observation
from aegntix.engine import Runner, start_scenario
from aegntix.inject import inject
from aegntix.model.events import EventKind
from aegntix.model.scenario import AgentSpec, Scenario
from aegntix.swarm.recorded import recorded_topology
from aegntix.timeline import SqlStore
from tests.engine.conftest import FreshStore, examples_on
from tests.engine.helpers import own_events, run, signature
from tests.swarm.support import FunctionBrain, swarm

NEWS = "The bridge survey found no cracks."


def _quiet(obs: Observation, rng: random.Random) -> Decision:
    return Decision(action="say", content=f"{obs.agent.id} talks", stance=0.0)


def _run(store: SqlStore, branch_id: str, seen: list[Observation], steps: int | None) -> None:
    def factory(_scenario: Scenario, _agent: AgentSpec) -> FunctionBrain:
        return FunctionBrain(_quiet, seen)

    asyncio.run(Runner(store, branch_id, brains=factory).run(steps))


def _bfs(store: SqlStore, branch_id: str, scenario: Scenario, first: list[str], source: str):
    g = recorded_topology(store, branch_id, scenario).graph()
    g = g if g.is_directed() else g.to_directed()
    if source.startswith("agent:"):
        g.remove_node(source[6:])
    return nx.multi_source_dijkstra_path_length(g, set(first))


TOPOLOGIES: list[dict[str, Any] | None] = [
    {"kind": "ring"},
    {"kind": "ring", "directed": True},
    {"kind": "small_world", "k": 2, "p": 0.3},
    {"kind": "hierarchy", "branching": 2},
    {"kind": "star", "hub": "a3"},
    {"kind": "scale_free", "m": 1},
    None,  # mesh: everyone one hop from the first hearer
]


def test_at_step_k_exactly_the_agents_on_the_spread_path_have_heard_it(
    fresh_store: FreshStore,
) -> None:
    @examples_on(fresh_store.backend, sqlite=12)
    @given(
        topology=st.sampled_from(TOPOLOGIES),
        n=st.integers(4, 9),
        seed=st.integers(0, 2**30),
        source=st.sampled_from(["news", "agent:a0"]),
    )
    def check(topology: dict[str, Any] | None, n: int, seed: int, source: str) -> None:
        scenario = swarm(n, topology, seed=seed, memory_window=50)
        store = fresh_store()
        try:
            root = start_scenario(store, scenario)
            seen: list[Observation] = []
            _run(store, root.id, seen, 1)
            landed = inject(store, root.id, NEWS, strategy="organic", schedule={"source": source})
            at = landed.events[0].step
            waves = landed.events[0].payload["waves"]
            first = [a for w in waves if w["offset"] == 0 for a in w["agents"]]
            expected = _bfs(store, root.id, scenario, first, source)
            seen.clear()
            _run(store, root.id, seen, 10)
            heard_at: dict[str, int] = {}
            for obs in seen:  # the step each agent first saw the injection in its observation
                if any(e.kind == "injection" for e in obs.visible):
                    heard_at.setdefault(obs.agent.id, obs.step)
            assert heard_at == {a: at + d for a, d in expected.items() if at + d <= at + 9}
            # recorded as injection waves, one event per (step, teller)
            told = [e for e in store.events(root.id) if e.kind == EventKind.INJECTION]
            assert all(e.payload["wave"]["of"] == told[0].seq for e in told[1:])
        finally:
            store.close()

    check()


def test_a_fork_during_the_spread_inherits_it_exactly(fresh_store: FreshStore) -> None:
    @examples_on(fresh_store.backend, sqlite=8)
    @given(
        topology=st.sampled_from(TOPOLOGIES),
        seed=st.integers(0, 2**30),
        where=st.integers(0, 6),
        p=st.sampled_from([1.0, 0.6]),
    )
    def check(topology: dict[str, Any] | None, seed: int, where: int, p: float) -> None:
        scenario = swarm(12, topology, seed=seed)
        store = fresh_store(snapshot_every=3)
        try:
            root = start_scenario(store, scenario)
            run(store, root.id, 2)
            landed = inject(
                store, root.id, NEWS, strategy="organic", schedule={"source": "agent:a5", "p": p}
            ).events[0]
            run(store, root.id, 1)
            run(store, root.id, 8)  # a new runner: the pending waves come from the timeline
            child = store.fork(root.id, where)
            run(store, child.id, 11 - where)
            mine = own_events(store, child.id, child.fork_seq)
            if where < landed.step:  # invariant 5: a fork before the injection never hears it
                assert not [e for e in mine if e.kind == EventKind.INJECTION]
            else:  # invariant 3
                assert signature(mine) == signature(own_events(store, root.id, child.fork_seq))
        finally:
            store.close()

    check()
