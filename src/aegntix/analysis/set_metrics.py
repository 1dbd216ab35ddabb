"""Emergence metrics over a rollout set: each finished member's end-of-branch metrics
(``aegntix.swarm.metrics.summary``, read from its timeline) summarized like outcomes.

The metrics that are state-only (``polarization``, ``bimodality``, ``opinion_clusters``)
are also outcome names and reach the set's statistics that way; this adds those that need
a member's history: the consensus step (over the members that reached one, with the share
that did) and the echo-chamber figures.
"""

from __future__ import annotations

from typing import Any

from aegntix.analysis.records import RolloutRepository
from aegntix.analysis.stats import Summary, summarize
from aegntix.model.events import BranchStatus
from aegntix.swarm.metrics import branch_metrics, summary
from aegntix.timeline.store import Store

#: Numeric end-of-branch metrics summarized over members (None values are left out).
NUMERIC = (
    "polarization",
    "bimodality",
    "opinion_clusters",
    "stance_spread",
    "consensus_step",
    "echo_chamber",
    "ei_index",
)


def member_metrics(store: Store, repo: RolloutRepository, set_id: str) -> list[dict[str, Any]]:
    """Each finished member's metric summary, in member order."""
    return [
        dict(summary(branch_metrics(store, head.branch_id)))
        for head in repo.member_heads(set_id)
        if head.status == BranchStatus.DONE.value
    ]


def set_metrics(
    store: Store, repo: RolloutRepository, set_id: str, *, seed: int = 0
) -> dict[str, Summary]:
    """Per metric, its distribution over the finished members; ``reached_consensus`` is the
    rate of members whose stances converged (a consensus step exists)."""
    members = member_metrics(store, repo, set_id)
    out: dict[str, Summary] = {}
    for name in NUMERIC:
        values = [float(m[name]) for m in members if m.get(name) is not None]
        if values:
            out[name] = summarize(values, seed=seed, field=name)
    if members:
        reached = [m.get("consensus_step") is not None for m in members]
        out["reached_consensus"] = summarize(reached, seed=seed, field="reached_consensus")
    return out
