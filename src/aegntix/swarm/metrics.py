"""Emergence metrics of a branch, per step and at the end, read from its timeline only.

The walk folds the branch's events (never a live runner): at each ``step_end`` it takes the
agents' stances; each ``message`` event is heard by the agents the recorded topology lets
hear it (:class:`Visibility`, as in the run). From those two series:

- per step: mean and spread of stances, Esteban–Ray polarization, bimodality coefficient,
  number of opinion clusters (:mod:`aegntix.swarm.stance_stats`), messages heard, and for
  ``groups`` topologies the echo-chamber share and E-I index of the step's hearings;
- at the end: the consensus step (first step from which the spread stays below
  :data:`CONSENSUS_SPREAD` to the last step), influence per speaker, and the echo-chamber
  figures over the whole branch.

Influence: a message of speaker s at step t heard by h moves h by
d = (x_h(t+1) - x_h(t)) * sign(x_s(t) - x_h(t)) (toward s: positive), x(t) the stance after
step t; d is shared equally among the distinct speakers h heard at step t. A speaker's
influence is the sum of its shares over hearers and steps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from aegntix.model.events import EventKind
from aegntix.model.scenario import Scenario
from aegntix.model.state import STEP_END, State, apply_event, empty_state
from aegntix.model.stored import scenario_of
from aegntix.swarm.recorded import recorded_topology
from aegntix.swarm.stance_stats import (
    CLUSTER_GAP,
    CONSENSUS_SPREAD,
    ER_ALPHA,
    bimodality,
    clusters,
    esteban_ray,
    spread,
)
from aegntix.swarm.topology import Topology
from aegntix.swarm.visibility import Visibility
from aegntix.timeline.store import Store

Stances = dict[str, float]
#: (speaker, hearer) pairs of one step
Hearings = list[tuple[str, str]]


def _r(x: float) -> float:
    return round(x, 6)


@dataclass(frozen=True, slots=True)
class StepMetrics:
    step: int
    stances: int  # agents holding a stance (none: the stance figures are 0)
    mean_stance: float
    stance_spread: float
    polarization: float
    bimodality: float
    opinion_clusters: int
    heard: int  # (message, hearer) pairs in this step
    echo_chamber: float | None  # groups: share of hearings within a group
    ei_index: float | None  # groups: (external - internal) / (external + internal)


@dataclass(frozen=True, slots=True)
class BranchMetrics:
    branch_id: str
    steps: list[StepMetrics]
    consensus_step: int | None
    influence: dict[str, float]  # per speaker, every agent listed
    echo_chamber: float | None
    ei_index: float | None
    params: dict[str, float] = field(
        default_factory=lambda: {
            "er_alpha": ER_ALPHA,
            "cluster_gap": CLUSTER_GAP,
            "consensus_spread": CONSENSUS_SPREAD,
        }
    )

    @property
    def final(self) -> StepMetrics | None:
        return self.steps[-1] if self.steps else None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["final"] = None if self.final is None else asdict(self.final)
        return out


@dataclass(slots=True)
class History:
    """What the walk collects: stances after each step (step 0: the initial state) and who
    heard whom in each step."""

    stances: dict[int, Stances] = field(default_factory=dict)
    hearings: dict[int, Hearings] = field(default_factory=dict)


def _stances(state: State) -> Stances:
    return {
        k: float(v["stance"]) for k, v in state["agents"].items() if v.get("stance") is not None
    }


def read_history(store: Store, branch_id: str, scenario: Scenario | None = None) -> History:
    """Fold ``branch_id``'s timeline (its lineage's events up to its head)."""
    scenario = scenario if scenario is not None else scenario_of(store, branch_id)
    seen = Visibility(scenario, recorded_topology(store, branch_id, scenario))
    everyone = [a.id for a in scenario.agents]
    order = {a: i for i, a in enumerate(everyone)}
    history = History()
    state = empty_state()
    for ev in store.events(branch_id):
        if ev.step >= 1 and 0 not in history.stances:
            history.stances[0] = _stances(state)
        apply_event(state, ev.kind, ev.step, ev.payload)
        if ev.kind is EventKind.MESSAGE and ev.agent_id is not None:
            to = ev.payload.get("to")
            addressed = frozenset(to) if to else None
            audience = seen.audience(ev.kind, ev.agent_id, addressed)
            # file order keeps the float sums of influence in one order on every read
            hearers = everyone if audience is None else sorted(audience, key=order.__getitem__)
            pairs = history.hearings.setdefault(ev.step, [])
            pairs.extend((ev.agent_id, h) for h in hearers if h != ev.agent_id)
        elif ev.kind is EventKind.SYSTEM and ev.payload.get("type") == STEP_END:
            history.stances[ev.step] = _stances(state)
    if 0 not in history.stances:
        history.stances[0] = _stances(state)
    return history


def consensus_step(
    spreads: Sequence[tuple[int, float]], below: float = CONSENSUS_SPREAD
) -> int | None:
    """First step from which every spread (to the last) is below ``below``; None if the
    last is not."""
    found: int | None = None
    for step, value in spreads:
        found = (step if found is None else found) if value < below else None
    return found


def influence(history: History, agents: Sequence[str]) -> dict[str, float]:
    """Per speaker: how far its messages moved its hearers toward it in the next step."""
    credit = dict.fromkeys(agents, 0.0)
    for step, pairs in history.hearings.items():
        before, after = history.stances.get(step), history.stances.get(step + 1)
        if before is None or after is None:
            continue
        speakers_of: dict[str, list[str]] = {}
        for speaker, hearer in pairs:
            heard = speakers_of.setdefault(hearer, [])
            if speaker not in heard:
                heard.append(speaker)
        for hearer, speakers in speakers_of.items():
            x0, x1 = before.get(hearer), after.get(hearer)
            if x0 is None or x1 is None:
                continue
            for s in speakers:
                xs = before.get(s)
                if xs is None or xs == x0:
                    continue
                toward = 1.0 if xs > x0 else -1.0
                credit[s] = credit.get(s, 0.0) + (x1 - x0) * toward / len(speakers)
    return {k: _r(v) for k, v in credit.items()}


def echo(pairs: Hearings, topology: Topology) -> tuple[float | None, float | None]:
    """(share of hearings within a shared group, E-I index); None without groups or
    hearings."""
    if not topology.groups or not pairs:
        return None, None
    member: dict[str, set[str]] = {}
    for name, ids in topology.groups.items():
        for agent_id in ids:
            member.setdefault(agent_id, set()).add(name)
    inside = sum(1 for s, h in pairs if member.get(s, set()) & member.get(h, set()))
    outside = len(pairs) - inside
    return _r(inside / len(pairs)), _r((outside - inside) / len(pairs))


def step_metrics(step: int, stances: Stances, pairs: Hearings, topology: Topology) -> StepMetrics:
    values = list(stances.values())
    chamber, ei = echo(pairs, topology)
    return StepMetrics(
        step=step,
        stances=len(values),
        mean_stance=_r(sum(values) / len(values)) if values else 0.0,
        stance_spread=_r(spread(values)),
        polarization=_r(esteban_ray(values)),
        bimodality=_r(bimodality(values)),
        opinion_clusters=len(clusters(values)),
        heard=len(pairs),
        echo_chamber=chamber,
        ei_index=ei,
    )


def branch_metrics(store: Store, branch_id: str) -> BranchMetrics:
    """Every metric of ``branch_id``, from its timeline. Raises ``BranchNotFound``."""
    scenario = scenario_of(store, branch_id)
    topology = recorded_topology(store, branch_id, scenario)
    history = read_history(store, branch_id, scenario)
    steps = [
        step_metrics(s, history.stances[s], history.hearings.get(s, []), topology)
        for s in sorted(history.stances)
    ]
    every: Hearings = [p for s in sorted(history.hearings) for p in history.hearings[s]]
    chamber, ei = echo(every, topology)
    return BranchMetrics(
        branch_id=branch_id,
        steps=steps,
        # a step where nobody holds a stance is no consensus
        consensus_step=consensus_step(
            [(m.step, m.stance_spread if m.stances else math.inf) for m in steps]
        ),
        influence=influence(history, [a.id for a in scenario.agents]),
        echo_chamber=chamber,
        ei_index=ei,
    )


def summary(metrics: BranchMetrics) -> Mapping[str, Any]:
    """The end-of-branch figures as one flat mapping (for compare and rollout stats)."""
    last = metrics.final
    out: dict[str, Any] = {
        "consensus_step": metrics.consensus_step,
        "echo_chamber": metrics.echo_chamber,
        "ei_index": metrics.ei_index,
    }
    if last is not None:
        out.update(
            polarization=last.polarization,
            bimodality=last.bimodality,
            opinion_clusters=last.opinion_clusters,
            stance_spread=last.stance_spread,
        )
    if metrics.influence:
        top = max(metrics.influence.items(), key=lambda kv: (kv[1], kv[0]))
        out["top_influencer"] = top[0]
    return out
