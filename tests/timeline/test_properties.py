"""Property tests: random fork trees against a plain in-memory reference model.

Each example builds a tree in its own scenario of a module-wide store (``snapshot_every=3``,
so snapshots on ancestors are exercised), then checks every branch's logical sequence, hash
chain, heads, state at every step, and ``verify``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from aegntix.errors import ForkOutOfRange
from aegntix.model.events import EventKind, NewEvent
from aegntix.timeline import SqlStore, state_at, verify

from .conftest import timeline_examples
from .helpers import assert_chain, fold_events

KINDS = [EventKind.WORLD, EventKind.WORLD, EventKind.MESSAGE, EventKind.ACTION, EventKind.SYSTEM]


@dataclass
class Ref:
    events: list[NewEvent] = field(default_factory=list)

    @property
    def head_step(self) -> int:
        return self.events[-1].step if self.events else 0


def _event(step: int, kind: EventKind, n: int) -> NewEvent:
    if kind is EventKind.WORLD:
        key = f"world.k{n % 4}" if n % 3 else f"agents.a{n % 2}.v"
        return NewEvent(step, kind, {"set": {key: {"n": n, "l": [n, step]}}})
    if kind is EventKind.SYSTEM:
        return NewEvent(step, kind, {"type": "step_end"})
    return NewEvent(step, kind, {"text": f"e{n}"}, f"a{n % 2}")


append_op = st.tuples(
    st.just("append"),
    st.integers(0, 50),  # which branch (modulo the count)
    st.lists(st.tuples(st.integers(0, 2), st.sampled_from(KINDS)), min_size=1, max_size=6),
)
fork_op = st.tuples(st.just("fork"), st.integers(0, 50), st.integers(0, 1000))
bad_fork_op = st.tuples(st.just("bad_fork"), st.integers(0, 50), st.integers(1, 5))
programs = st.lists(st.one_of(append_op, append_op, fork_op, bad_fork_op), min_size=1, max_size=18)


def _run(store: SqlStore, program: list[tuple[Any, ...]]) -> dict[str, Ref]:
    scenario = store.create_scenario("prop", {})
    refs = {store.create_branch(scenario.id, seed=1).id: Ref()}
    counter = 0
    for op in program:
        ids = list(refs)
        target = ids[op[1] % len(ids)]
        ref = refs[target]
        if op[0] == "append":
            step, new = ref.head_step, []
            for delta, kind in op[2]:
                step += delta
                counter += 1
                new.append(_event(step, kind, counter))
            got = store.append(target, new)
            assert [e.seq for e in got] == list(
                range(len(ref.events) + 1, len(ref.events) + len(new) + 1)
            )
            ref.events.extend(new)
        elif op[0] == "fork":
            at = op[2] % (ref.head_step + 1)
            child = store.fork(target, at)
            refs[child.id] = Ref([e for e in ref.events if e.step <= at])
        else:
            try:
                store.fork(target, ref.head_step + op[2])
            except ForkOutOfRange:
                pass
            else:  # pragma: no cover
                raise AssertionError("fork past the head succeeded")
    return refs


def test_fork_trees_match_reference(shared_store: SqlStore) -> None:
    store = shared_store

    @timeline_examples(store.engine.dialect.name)
    @given(program=programs)
    def check(program: list[tuple[Any, ...]]) -> None:
        refs = _run(store, program)
        for bid, ref in refs.items():
            events = list(store.events(bid))
            assert [(e.step, e.kind, e.agent_id, e.payload) for e in events] == [
                (e.step, e.kind, e.agent_id, e.payload) for e in ref.events
            ]
            assert_chain(events)
            head = store.get_branch(bid)
            assert head.head_seq == len(ref.events)
            assert head.head_step == ref.head_step
            assert head.head_hash == (events[-1].hash if events else head.head_hash)
            for step in range(ref.head_step + 1):
                assert state_at(store, bid, step) == fold_events(ref.events, step), (bid, step)
                assert store.seq_at_step(bid, step) == sum(1 for e in ref.events if e.step <= step)
            assert verify(store, bid).ok

    check()


def test_null_intervention_fork_reproduces_hashes(shared_store: SqlStore) -> None:
    """Invariant 3 at the store level: a fork that appends what its parent appended after
    the fork point gets the parent's hashes (branch id and time are not hashed)."""
    store = shared_store

    @timeline_examples(store.engine.dialect.name, sqlite=60)
    @given(program=programs, data=st.data())
    def check(program: list[tuple[Any, ...]], data: st.DataObject) -> None:
        refs = _run(store, program)
        parent = list(refs)[data.draw(st.integers(0, len(refs) - 1))]  # creation order: replayable
        ref = refs[parent]
        at = data.draw(st.integers(0, ref.head_step))
        child = store.fork(parent, at)
        rest = [e for e in ref.events if e.step > at]
        if rest:
            store.append(child.id, rest)
        parent_events, child_events = list(store.events(parent)), list(store.events(child.id))
        assert [e.hash for e in child_events] == [e.hash for e in parent_events]
        assert store.get_branch(child.id).head_hash == store.get_branch(parent).head_hash

    check()
