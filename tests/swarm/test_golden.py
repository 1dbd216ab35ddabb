"""The swarm scenarios' timelines and prompts are exactly those recorded in
``golden_hashes.json`` (see ``golden.py``), and a fork of a small world reproduces its parent."""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from aegntix.engine import Runner
from aegntix.timeline import SqlStore

from .golden import FILES, FIXTURE, GENERATED, STEPS, generated, record_file, record_scenario

RECORDING = os.environ.get("AEGNTIX_RECORD_GOLDEN") == "1"


def _check(name: str, got: dict[str, object]) -> None:
    if RECORDING:
        data = json.loads(FIXTURE.read_text()) if FIXTURE.exists() else {}
        data[name] = got
        FIXTURE.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        return
    assert got == json.loads(FIXTURE.read_text())[name]


@pytest.mark.parametrize("name", FILES)
def test_swarm_example_reproduces_its_golden_hashes(store: SqlStore, name: str) -> None:
    _check(name, record_file(store, name))


@pytest.mark.parametrize(("kind", "n"), GENERATED)
def test_generated_swarm_reproduces_its_golden_hashes(store: SqlStore, kind: str, n: int) -> None:
    _check(f"{kind}-{n}", record_scenario(store, generated(n, kind)))


def test_fork_of_a_small_world_keeps_its_parents_hashes(store: SqlStore) -> None:
    record_scenario(store, generated(60, "small_world"))
    (parent,) = [b for b in store.list_branches() if b.parent_id is None]
    child = store.fork(parent.id, at_step=2)
    asyncio.run(Runner(store, child.id).run(STEPS - 2))
    mine = [(e.seq, e.kind, e.agent_id, e.payload, e.hash) for e in store.events(child.id)]
    theirs = [(e.seq, e.kind, e.agent_id, e.payload, e.hash) for e in store.events(parent.id)]
    assert mine == theirs
