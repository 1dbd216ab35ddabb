"""Integrity check (invariant 8): re-walk every branch's own rows as stored and report the
first row that breaks the sequence or the hash chain, and heads that disagree with the rows.

It reads raw rows (nothing parsed or trusted first), so it catches a row edited behind the
store's back, e.g. with the append-only trigger dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from aegntix.model.events import GENESIS_HASH, Branch, EventKind, event_hash
from aegntix.timeline.store import Store

_KINDS = frozenset(k.value for k in EventKind)


class RawEvent(NamedTuple):
    """A row of ``events`` exactly as stored."""

    seq: int
    step: int
    kind: str
    agent_id: str | None
    payload: str
    hash: str
    prev_hash: str


class Auditable(Store, Protocol):
    """A store that can hand out its raw rows (``SqlStore`` does)."""

    def raw_events(self, branch_id: str) -> Iterator[RawEvent]:
        """Every row stored under ``branch_id`` (own rows only), in seq order, unbounded by
        the head."""
        ...


@dataclass(frozen=True)
class Problem:
    branch_id: str
    seq: int
    reason: str


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    branches_checked: int
    events_checked: int
    problems: list[Problem] = field(default_factory=list)  # the first one per branch


def verify(store: Auditable, branch_id: str | None = None) -> VerifyReport:
    """Check one branch's own rows, or every branch's. Raises ``BranchNotFound``."""
    targets = [store.get_branch(branch_id)] if branch_id else store.list_branches()
    problems: list[Problem] = []
    checked = 0
    for branch in targets:
        count, problem = _check_branch(store, branch)
        checked += count
        if problem is not None:
            problems.append(problem)
    return VerifyReport(not problems, len(targets), checked, problems)


def _fork_point(store: Auditable, branch: Branch) -> tuple[int, str] | None:
    """``(step, hash)`` of the last inherited event (logical seq ``fork_seq``)."""
    if branch.fork_seq == 0:
        return 0, GENESIS_HASH
    for ev in store.events(branch.id, from_seq=branch.fork_seq, to_seq=branch.fork_seq):
        return ev.step, ev.hash
    return None


def _check_branch(store: Auditable, branch: Branch) -> tuple[int, Problem | None]:
    bid = branch.id

    def problem(seq: int, reason: str) -> Problem:
        return Problem(bid, seq, reason)

    start = _fork_point(store, branch)
    if start is None:
        return 0, problem(branch.fork_seq, "the inherited event at the fork point is missing")
    prev_step, prev_hash = start
    expected = branch.fork_seq + 1
    checked = 0
    for row in store.raw_events(bid):
        if row.seq != expected:
            return checked, problem(
                expected,
                f"sequence broken: expected seq {expected}, "
                f"found {row.seq} (a row is missing or was inserted)",
            )
        if row.kind not in _KINDS:
            return checked, problem(row.seq, f"unknown kind '{row.kind}'")
        try:
            payload = json.loads(row.payload)
        except ValueError:
            return checked, problem(row.seq, "payload is not valid JSON")
        if row.prev_hash != prev_hash:
            return checked, problem(row.seq, "prev_hash does not match the previous event's hash")
        if (
            event_hash(row.prev_hash, row.seq, row.step, row.kind, row.agent_id, payload)
            != row.hash
        ):
            return checked, problem(row.seq, "hash does not match the row (it was changed)")
        if row.step < prev_step:
            return checked, problem(row.seq, f"step {row.step} goes back from {prev_step}")
        checked += 1
        prev_step, prev_hash = row.step, row.hash
        expected += 1
    last = expected - 1
    if (branch.head_seq, branch.head_step, branch.head_hash) != (last, prev_step, prev_hash):
        return checked, problem(
            branch.head_seq,
            f"head says seq {branch.head_seq} step {branch.head_step} hash "
            f"{branch.head_hash[:12]}…, the rows end at seq {last} step {prev_step} hash "
            f"{prev_hash[:12]}…",
        )
    return checked, None
