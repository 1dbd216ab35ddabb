"""Runs on topologies: mesh reproduces the events recorded before topologies existed, hash
for hash; a fork of a topology run with no intervention reproduces its parent (invariant
3)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from aegntix.engine import Runner, start_scenario
from aegntix.model.loading import load_scenario, validate_scenario
from aegntix.timeline import SqlStore, open_sqlite_store

from .support import swarm

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: (events, head hash) of each example after its first steps, recorded on the code before
#: topologies and visibility existed: a scenario without a topology must not change.
RECORDED = {
    ("negotiation.yaml", False): (
        40,
        "da3c184870c528ebe569835a07845e09dcd36769df9a7c35790b29829d1d1cfd",
    ),
    ("town-hall.yaml", False): (
        94,
        "cffbd17a192d7fc40d75e205187d0f75f823a7e7fc2517b7142f7ec43d9c9804",
    ),
    ("incident-response.yaml", False): (
        69,
        "e134d2f067c2300ed4fc23fd8475bdedff1b3d2c01e9c034f9fe381ca5b25c6d",
    ),
    ("jury.yaml", False): (
        64,
        "4af86bb1e5e8a358140d57d466f3de74b8ba1f797f70a4f96d8d3c8bd703dcb0",
    ),
    # memory on: recall, reflection and persona drift read the other agents too
    ("town-hall.yaml", True): (
        255,
        "1b231942cdb1935083e283815c9441363ca92e50ee21ad08dfe356b3f96aa2cc",
    ),
    ("negotiation.yaml", True): (
        83,
        "1bb1a223275bda1f04caa7de55670cfb9caf158cd31c739ac28a77f20fe5b0f4",
    ),
}


@pytest.mark.parametrize(("name", "memory"), list(RECORDED))
def test_mesh_reproduces_recorded_events(store: SqlStore, name: str, memory: bool) -> None:
    data = load_scenario(EXAMPLES / name).model_dump(mode="json")
    if memory:
        data["memory"] = {"enabled": True, "reflect_threshold": 10}
    branch = start_scenario(store, validate_scenario(data))
    asyncio.run(Runner(store, branch.id).run(8 if memory else 6))
    events = list(store.events(branch.id))
    assert (len(events), events[-1].hash) == RECORDED[(name, memory)]


def test_explicit_mesh_is_no_topology(tmp_path: Path) -> None:
    def payloads(topology: Any, folder: str) -> list[tuple[Any, ...]]:
        data = load_scenario(EXAMPLES / "town-hall.yaml").model_dump(mode="json")
        if topology is not None:
            data["topology"] = topology
        (tmp_path / folder).mkdir()
        s = open_sqlite_store(tmp_path / folder / "t.db")
        try:
            branch = start_scenario(s, validate_scenario(data))
            asyncio.run(Runner(s, branch.id).run(4))
            # the start event names the spec's hash, which the topology key changes
            return [
                (e.step, e.kind, e.agent_id, e.payload) for e in s.events(branch.id, from_seq=2)
            ]
        finally:
            s.close()

    assert payloads("mesh", "a") == payloads(None, "b")


@pytest.mark.parametrize(
    "topology",
    [
        {"kind": "small_world", "k": 4, "p": 0.2},
        {"kind": "hierarchy", "branching": 3, "directed": True},
        {
            "kind": "groups",
            "groups": {"x": ["a0", "a1", "a2", "a3"], "y": ["a4", "a5", "a6", "a7", "a8"]},
            "bridges": [["a3", "a4"]],
        },
    ],
)
def test_a_fork_without_intervention_reproduces_its_parent(
    store: SqlStore, topology: dict[str, Any]
) -> None:
    scenario = swarm(9, topology, memory={"enabled": True, "embedder": "hash"})
    branch = start_scenario(store, scenario)
    asyncio.run(Runner(store, branch.id).run(6))
    fork = store.fork(branch.id, 2)
    asyncio.run(Runner(store, fork.id).run(4))
    parent = [(e.seq, e.kind, e.agent_id, e.payload, e.hash) for e in store.events(branch.id)]
    child = [(e.seq, e.kind, e.agent_id, e.payload, e.hash) for e in store.events(fork.id)]
    assert child == parent
