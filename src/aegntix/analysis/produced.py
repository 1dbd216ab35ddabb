"""What a set produced, read in one pass: the same values as ``set_outcomes`` and
``set_series`` (a test holds them equal) from one query for every member's ``step_end``
events instead of two walks over each member's whole timeline.

A member's series is the parent's ``step_end`` outcomes up to the fork point (read once, the
members share them) followed by its own. Its final outcomes are the last ``step_end``'s when
that event is the member's head: the runner computed them from the state right before
recording it, and folding the step_end changes nothing ``compute_outcomes`` reads (``step``
and ``completed`` were already set), so ``compute_outcomes(state_at(head))`` gives the same
values (recorded rounded, through canonical JSON, which round-trips them). A member with
anything after its last step_end (an injection into a finished member), or forked from
elsewhere, is read the exact way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aegntix.analysis.records import MemberHead, RolloutRepository
from aegntix.model.events import BranchStatus, EventKind
from aegntix.model.outcomes import compute_outcomes
from aegntix.model.scenario import Scenario
from aegntix.model.state import STEP_END
from aegntix.model.stored import scenario_from
from aegntix.timeline.state import state_at
from aegntix.timeline.store import Store

#: (seq, recorded outcomes) of each step_end, oldest first.
Ends = list[tuple[int, Mapping[str, Any] | None]]


@dataclass(frozen=True, slots=True)
class Produced:
    """``outcomes[name][i]``: member i's final value (None if unfinished);
    ``series[name][i][k]``: its value after step k + 1. Both in member (= seed) order."""

    outcomes: dict[str, list[Any]]
    series: dict[str, list[list[Any]]]
    #: each member's final outcomes as one mapping (None if unfinished), in member order
    finals: list[Mapping[str, Any] | None]


def read_set(
    store: Store, repo: RolloutRepository, set_id: str, heads: list[MemberHead] | None = None
) -> Produced:
    """``heads``: the members' rows if the caller has just read them."""
    rollout = repo.get(set_id)
    scenario = scenario_from(store.get_scenario(rollout.scenario_id))
    heads = repo.member_heads(set_id) if heads is None else heads
    own = repo.step_ends(set_id)
    fork_seqs = {h.fork_seq for h in heads if h.parent_id == rollout.parent_id}
    shared = {seq: _ends(store, rollout.parent_id, seq) for seq in fork_seqs}
    outcomes: dict[str, list[Any]] = {name: [] for name in scenario.outcomes}
    series: dict[str, list[list[Any]]] = {name: [] for name in scenario.outcomes}
    finals: list[Mapping[str, Any] | None] = []
    for head in heads:
        if head.parent_id == rollout.parent_id:
            ends = shared[head.fork_seq] + _decoded(own.get(head.branch_id, []), head.head_seq)
        else:  # not forked from the set's point (never made by create_set): read it whole
            ends = _ends(store, head.branch_id, head.head_seq)
        final = _final(store, scenario, head, ends)
        finals.append(final if head.status == BranchStatus.DONE.value else None)
        for name, column in outcomes.items():
            column.append(final.get(name))
        for name, per_member in series.items():
            per_member.append([(recorded or {}).get(name) for _, recorded in ends])
    return Produced(outcomes, series, finals)


def _final(store: Store, scenario: Scenario, head: MemberHead, ends: Ends) -> Mapping[str, Any]:
    if head.status != BranchStatus.DONE.value:
        return {}
    if ends and ends[-1][0] == head.head_seq:
        return ends[-1][1] or {}
    return compute_outcomes(scenario, state_at(store, head.branch_id))


def _decoded(rows: list[tuple[int, str]], head_seq: int) -> Ends:
    found: Ends = []
    for seq, text in rows:
        payload = json.loads(text)
        if seq <= head_seq and payload.get("type") == STEP_END:
            found.append((seq, payload.get("outcomes")))
    return found


def _ends(store: Store, branch_id: str, to_seq: int) -> Ends:
    """The step_end outcomes of ``branch_id``'s timeline up to ``to_seq`` (exact path)."""
    return [
        (e.seq, e.payload.get("outcomes"))
        for e in store.events(branch_id, to_seq=to_seq)
        if e.kind is EventKind.SYSTEM and e.payload.get("type") == STEP_END
    ]
