"""The example scenarios' timelines and prompts are exactly those recorded in
``golden_hashes.json`` (see ``golden.py``), and a fork of each reproduces its parent."""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from aegntix.engine import Runner
from aegntix.timeline import SqlStore

from .golden import FILES, FIXTURE, STEPS, record

RECORDING = os.environ.get("AEGNTIX_RECORD_GOLDEN") == "1"


@pytest.fixture(scope="module")
def golden() -> dict[str, dict[str, object]]:
    if RECORDING:
        return {}
    data: dict[str, dict[str, object]] = json.loads(FIXTURE.read_text())
    return data


@pytest.mark.parametrize("name", FILES)
def test_example_reproduces_its_golden_hashes(
    store: SqlStore, golden: dict[str, dict[str, object]], name: str
) -> None:
    got = record(store, name)
    if RECORDING:
        data = json.loads(FIXTURE.read_text()) if FIXTURE.exists() else {}
        data[name] = got
        FIXTURE.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        return
    assert got == golden[name]


@pytest.mark.parametrize("name", ["negotiation.yaml", "town-hall.yaml", "incident-response.yaml"])
def test_fork_of_an_example_keeps_its_parents_hashes(store: SqlStore, name: str) -> None:
    record(store, name)
    (parent,) = [b for b in store.list_branches() if b.parent_id is None]
    child = store.fork(parent.id, at_step=3)
    asyncio.run(Runner(store, child.id).run(STEPS - 3))
    mine = [(e.seq, e.kind, e.agent_id, e.payload, e.hash) for e in store.events(child.id)]
    theirs = [(e.seq, e.kind, e.agent_id, e.payload, e.hash) for e in store.events(parent.id)]
    assert mine == theirs
