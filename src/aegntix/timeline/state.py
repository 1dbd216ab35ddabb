"""State at any step: the newest snapshot at or before it, plus a fold of the events since.

Works on any :class:`Store`. Every call returns a fresh state object the caller owns.
"""

from __future__ import annotations

from aegntix.errors import ForkOutOfRange
from aegntix.model.state import State, apply_event, empty_state
from aegntix.timeline.store import Store


def state_at(store: Store, branch_id: str, step: int | None = None) -> State:
    """State of ``branch_id`` after every event with ``step <= step`` (``None``: the head).
    Raises ``BranchNotFound``, or ``ForkOutOfRange`` for a step outside ``0..head_step``."""
    branch = store.get_branch(branch_id)
    if step is None:
        return state_at_seq(store, branch_id, branch.head_seq)
    if step < 0 or step > branch.head_step:
        raise ForkOutOfRange(
            f"branch '{branch_id}' has no step {step}: its head is at step {branch.head_step}"
        )
    return state_at_seq(store, branch_id, store.seq_at_step(branch_id, step))


def state_at_seq(store: Store, branch_id: str, seq: int) -> State:
    """State after logical events ``1..seq``."""
    snap = store.latest_snapshot(branch_id, seq)
    # A Snapshot's state is decoded per call, so it is already ours to fold into.
    state = snap.state if snap is not None else empty_state()
    base = snap.seq if snap is not None else 0
    if seq > base:
        for ev in store.events(branch_id, from_seq=base + 1, to_seq=seq):
            apply_event(state, ev.kind, ev.step, ev.payload)
    return state
