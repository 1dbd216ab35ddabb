"""Compare two branches: where their timelines part, what each did since, how their worlds and
declared outcomes differ, and how far apart the outcomes drift step by step.

Works on any :class:`Store`. Hash chains make the shared prefix cheap to find: equal hashes at
seq n mean equal histories up to n, so the first difference is found by binary search.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from pydantic import ValidationError

from aegntix.errors import ExpressionFailed, ScenarioInvalid
from aegntix.model.events import Branch, Event
from aegntix.model.outcomes import compute_outcomes
from aegntix.model.scenario import Scenario
from aegntix.model.state import State, apply_event
from aegntix.model.stored import scenario_of
from aegntix.timeline.state import state_at, state_at_seq
from aegntix.timeline.store import Store

#: At most this many events are kept in ``only_a`` / ``only_b`` (the counts are exact).
ONLY_CAP = 10_000


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    common_ancestor: str | None  # deepest branch on both lineages; None: unrelated
    divergence_seq: int | None  # first logical seq that differs; None: identical
    divergence_step: int | None
    only_a: list[Event] = field(repr=False)  # a's events from divergence_seq on (capped)
    only_b: list[Event] = field(repr=False)
    only_a_count: int
    only_b_count: int
    world_diff: dict[str, tuple[Any, Any]]  # "world.k" / "agents.<id>.k" -> (a, b), heads
    outcomes_a: dict[str, Any]
    outcomes_b: dict[str, Any]
    outcome_deltas: dict[str, Any]  # b - a where numeric, else (a, b)
    divergence_series: list[tuple[int, float]]  # (step, outcome distance in 0..1)
    #: emergence metrics at the heads (aegntix.swarm.metrics.summary); empty without stances
    metrics_a: dict[str, Any] = field(default_factory=dict)
    metrics_b: dict[str, Any] = field(default_factory=dict)
    metrics_deltas: dict[str, Any] = field(default_factory=dict)

    @property
    def diverged(self) -> bool:
        return self.divergence_seq is not None


def compare(store: Store, a: str, b: str) -> Comparison:
    """Raises ``BranchNotFound`` for an unknown id."""
    lin_a, lin_b = store.lineage(a), store.lineage(b)
    ba, bb = lin_a[0], lin_b[0]
    common, shared = _shared_prefix(lin_a, lin_b)
    div = _first_difference(store, ba, bb, shared)
    div_step: int | None = None
    only_a: list[Event] = []
    only_b: list[Event] = []
    if div is not None:
        only_a = list(islice(store.events(a, from_seq=div), ONLY_CAP))
        only_b = list(islice(store.events(b, from_seq=div), ONLY_CAP))
        div_step = min(e.step for e in (only_a[:1] + only_b[:1]))
    # The heads read above bound everything, so a concurrent append cannot skew the answer.
    state_a, state_b = state_at_seq(store, a, ba.head_seq), state_at_seq(store, b, bb.head_seq)
    scen_a, scen_b = _scenario(store, ba), _scenario(store, bb)
    out_a, out_b = _outcomes(scen_a, state_a), _outcomes(scen_b, state_b)
    if div_step is not None:
        start = div_step
    elif shared > 0:
        start = _step_at(store, a, shared)
    else:
        start = 0
    series = _series(store, ba, bb, scen_a, scen_b, start, max(ba.head_step, bb.head_step))
    met_a, met_b = _metrics(store, a, scen_a), _metrics(store, b, scen_b)
    return Comparison(
        a=a,
        b=b,
        common_ancestor=common,
        divergence_seq=div,
        divergence_step=div_step,
        only_a=only_a,
        only_b=only_b,
        only_a_count=max(0, ba.head_seq - div + 1) if div is not None else 0,
        only_b_count=max(0, bb.head_seq - div + 1) if div is not None else 0,
        world_diff=world_diff(state_a, state_b),
        outcomes_a=out_a,
        outcomes_b=out_b,
        outcome_deltas=outcome_deltas(out_a, out_b),
        divergence_series=series,
        metrics_a=met_a,
        metrics_b=met_b,
        metrics_deltas=_number_deltas(met_a, met_b),
    )


def _number_deltas(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """b - a of the metrics both branches have as numbers (not an unreached consensus)."""
    deltas = outcome_deltas(a, b) if a and b else {}
    return {k: v for k, v in deltas.items() if not isinstance(v, tuple)}


def _metrics(store: Store, branch_id: str, scenario: Scenario | None) -> dict[str, Any]:
    """Emergence metrics of a branch whose agents hold a stance (else empty)."""
    # here: mechanics and swarm import the timeline (through model)
    from aegntix.mechanics import mechanics_of
    from aegntix.swarm.metrics import branch_metrics, summary

    if scenario is None or "stance" not in mechanics_of(scenario).agent_names:
        return {}
    return dict(summary(branch_metrics(store, branch_id)))


def _shared_prefix(lin_a: list[Branch], lin_b: list[Branch]) -> tuple[str | None, int]:
    """The deepest common lineage member, and how many logical events both inherit from it
    unchanged (the same rows, so equal by construction)."""
    ids_b = {m.id for m in lin_b}
    common = next((m.id for m in lin_a if m.id in ids_b), None)
    if common is None:
        return None, 0
    return common, min(_limit_in(lin_a, common), _limit_in(lin_b, common))


def _limit_in(lineage: list[Branch], member: str) -> int:
    limit = lineage[0].head_seq
    for m in lineage:
        if m.id == member:
            return limit
        limit = min(limit, m.fork_seq)
    raise AssertionError("member not on lineage")  # pragma: no cover


def _hash_at(store: Store, branch_id: str, seq: int) -> str:
    for ev in store.events(branch_id, from_seq=seq, to_seq=seq):
        return ev.hash
    return ""


def _first_difference(store: Store, ba: Branch, bb: Branch, shared: int) -> int | None:
    upper = min(ba.head_seq, bb.head_seq)
    lo = shared + 1
    if lo <= upper and _hash_at(store, ba.id, lo) == _hash_at(store, bb.id, lo):
        # Equal hashes at n imply equal prefixes up to n: binary search the first mismatch.
        good, bad = lo, upper + 1
        while bad - good > 1:
            mid = (good + bad) // 2
            if _hash_at(store, ba.id, mid) == _hash_at(store, bb.id, mid):
                good = mid
            else:
                bad = mid
        lo = bad
    if lo <= upper:
        return lo
    return None if ba.head_seq == bb.head_seq else upper + 1


def _step_at(store: Store, branch_id: str, seq: int) -> int:
    for ev in store.events(branch_id, from_seq=seq, to_seq=seq):
        return ev.step
    return 0


def _scenario(store: Store, branch: Branch) -> Scenario | None:
    try:  # parsed once per spec hash and version, upgraded as every reader does
        return scenario_of(store, branch)
    except (ValidationError, ScenarioInvalid):
        return None  # a spec that is not a Scenario: compare events and worlds only


def _outcomes(scenario: Scenario | None, state: State) -> dict[str, Any]:
    if scenario is None:
        return {}
    try:
        return compute_outcomes(scenario, state)
    except ExpressionFailed:
        return {}  # e.g. before the initial world event: the names are not there yet


def _flatten(state: State) -> dict[str, Any]:
    flat = {f"world.{k}": v for k, v in state.get("world", {}).items()}
    for agent_id, own in state.get("agents", {}).items():
        flat.update({f"agents.{agent_id}.{k}": v for k, v in own.items()})
    return flat


def world_diff(state_a: State, state_b: State) -> dict[str, tuple[Any, Any]]:
    """Flattened keys whose values differ (a missing key reads as None)."""
    fa, fb = _flatten(state_a), _flatten(state_b)
    keys = sorted(fa.keys() | fb.keys())
    return {k: (fa.get(k), fb.get(k)) for k in keys if fa.get(k) != fb.get(k)}


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    return None


def _delta(va: Any, vb: Any) -> Any:
    na, nb = _number(va), _number(vb)
    if na is not None and nb is not None:
        d = nb - na
        return round(d, 6) if isinstance(d, float) else d
    return (va, vb)


def outcome_deltas(out_a: dict[str, Any], out_b: dict[str, Any]) -> dict[str, Any]:
    deltas: dict[str, Any] = {}
    for key in sorted(out_a.keys() | out_b.keys()):
        va, vb = out_a.get(key), out_b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            agents = sorted(va.keys() | vb.keys())
            deltas[key] = {ag: _delta(va.get(ag), vb.get(ag)) for ag in agents}
        else:
            deltas[key] = _delta(va, vb)
    return deltas


def _value_distance(va: Any, vb: Any) -> float:
    na, nb = _number(va), _number(vb)
    if na is not None and nb is not None:
        return abs(na - nb) / max(abs(na), abs(nb), 1)
    return 0.0 if va == vb else 1.0


def outcome_distance(out_a: dict[str, Any], out_b: dict[str, Any]) -> float:
    """Mean over outcomes of a 0..1 distance: |a-b| / max(|a|, |b|, 1) for numbers (bools as
    0/1), equality for anything else, per-agent outcomes averaged over agents."""
    keys = out_a.keys() | out_b.keys()
    if not keys:
        return 0.0
    total = 0.0
    for key in keys:
        va, vb = out_a.get(key), out_b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            agents = va.keys() | vb.keys()
            if agents:
                total += sum(_value_distance(va.get(g), vb.get(g)) for g in agents) / len(agents)
        else:
            total += _value_distance(va, vb)
    return total / len(keys)


def _outcomes_by_step(
    store: Store, branch: Branch, scenario: Scenario | None, start: int, end: int
) -> Iterator[dict[str, Any]]:
    """Outcomes after each step ``start..end``: one state_at, then one streaming fold. Past
    its head a branch keeps its last state."""
    state = state_at(store, branch.id, min(start, branch.head_step))
    pending: Iterator[Event] = iter(())
    if start < branch.head_step:
        pending = store.events(branch.id, from_step=start + 1, to_seq=branch.head_seq)
    nxt = next(pending, None)
    outcomes: dict[str, Any] = {}
    for step in range(start, end + 1):
        changed = step == start
        while nxt is not None and nxt.step <= step:
            apply_event(state, nxt.kind, nxt.step, nxt.payload)
            nxt = next(pending, None)
            changed = True
        if changed:
            outcomes = _outcomes(scenario, state)
        yield outcomes


def _series(
    store: Store,
    ba: Branch,
    bb: Branch,
    scen_a: Scenario | None,
    scen_b: Scenario | None,
    start: int,
    end: int,
) -> list[tuple[int, float]]:
    if start > end:
        return []
    steps_a = _outcomes_by_step(store, ba, scen_a, start, end)
    steps_b = _outcomes_by_step(store, bb, scen_b, start, end)
    return [
        (step, round(outcome_distance(oa, ob), 6))
        for step, oa, ob in zip(range(start, end + 1), steps_a, steps_b, strict=True)
    ]
