"""`aegntix serve --examples` brings the persistent-agent example: its profile and first chapter."""

from __future__ import annotations

from aegntix.cli.serve import load_examples
from aegntix.memory.profiles import ProfileStore
from aegntix.timeline import SqlStore


def test_serving_the_examples_creates_dana_and_her_first_visit(store: SqlStore):
    added = load_examples(store)
    assert "Delivery van sale (Dana remembers)" in added
    assert "Refrigerated van (Dana returns)" not in added  # a later chapter: after a commit
    dana = ProfileStore(store).get("dana")
    assert dana.name == "Dana Whitfield" and dana.persona.agreeableness == 0.6
    (use,) = ProfileStore(store).history("dana")
    assert use.agent_id == "buyer" and use.version == 0
    assert load_examples(store) == []  # idempotent


def test_an_example_whose_agent_was_deleted_is_skipped(store: SqlStore):
    ProfileStore(store).create("dana", "Dana", None)
    ProfileStore(store).delete("dana")  # the id can never come back
    added = load_examples(store)
    assert added and "Delivery van sale (Dana remembers)" not in added
