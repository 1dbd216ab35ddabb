"""``aegntix metrics``: a branch's emergence metrics per step, read from its timeline."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from aegntix.analysis.rollouts import repository
from aegntix.cli.common import (
    DbOption,
    JsonOption,
    console,
    emit_json,
    handles_errors,
    opened,
    resolve_branch,
)
from aegntix.swarm.metrics import BranchMetrics, branch_metrics
from aegntix.timeline import SqlStore


def _fmt(value: float | int | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def metrics_table(m: BranchMetrics) -> Table:
    table = Table(title=f"emergence metrics of {m.branch_id}", title_justify="left")
    for column in (
        "step",
        "mean",
        "spread",
        "polarization",
        "bimodality",
        "clusters",
        "heard",
        "echo",
        "E-I",
    ):
        table.add_column(column, justify="right")
    for s in m.steps:
        table.add_row(
            str(s.step),
            _fmt(s.mean_stance),
            _fmt(s.stance_spread),
            _fmt(s.polarization),
            _fmt(s.bimodality),
            _fmt(s.opinion_clusters),
            _fmt(s.heard),
            _fmt(s.echo_chamber),
            _fmt(s.ei_index),
        )
    return table


def _set(store: SqlStore, ref: str, json_out: bool) -> None:
    from aegntix.analysis.set_metrics import set_metrics  # scipy: paid only when used

    repo = repository(store)
    set_id = repo.resolve(ref)
    found = set_metrics(store, repo, set_id)
    if json_out:
        emit_json({"set_id": set_id, "metrics": {k: v.json() for k, v in found.items()}})
        return
    table = Table(title=f"emergence metrics over rollout set {set_id}", title_justify="left")
    for column in ("metric", "n", "mean / rate", "95% CI", "sd"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for name, s in found.items():
        ci = "—" if s.ci_low is None else f"[{_fmt(s.ci_low)} – {_fmt(s.ci_high)}]"
        table.add_row(name, str(s.n), _fmt(s.mean), ci, _fmt(s.sd))
    console.print(table)


@handles_errors
def metrics(
    branch: Annotated[
        str, typer.Argument(help="Branch id (or unique prefix, or label); with --set, a set.")
    ],
    top: Annotated[int, typer.Option("--top", min=0, help="Most influential agents shown.")] = 5,
    of_set: Annotated[
        bool, typer.Option("--set", help="BRANCH is a rollout set: summarize its members.")
    ] = False,
    db: DbOption = "aegntix.db",
    json_out: JsonOption = False,
) -> None:
    """Emergence metrics of a branch per step: polarization, bimodality, opinion clusters,
    echo chambers; then consensus step and who moved whom (influence). With --set, each
    metric's distribution over a rollout set's finished members."""
    with opened(db) as store:
        if of_set:
            _set(store, branch, json_out)
            return
        found = resolve_branch(store, branch)
        m = branch_metrics(store, found.id)
    if json_out:
        emit_json(m.to_json())
        return
    if not any(s.stances for s in m.steps):
        console.print(
            f"branch {m.branch_id}: no agent holds a stance, so there is nothing to measure"
        )
        return
    console.print(metrics_table(m))
    when = "never" if m.consensus_step is None else f"step {m.consensus_step}"
    console.print(f"consensus (spread < {m.params['consensus_spread']}): {when}")
    if m.echo_chamber is not None:
        console.print(
            f"echo chamber: {m.echo_chamber:.3f} of hearings within a group "
            f"(E-I index {m.ei_index:.3f})"
        )
    ranked = sorted(m.influence.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    if ranked:
        console.print(
            "influence (stance moved toward the speaker, next step): "
            + ", ".join(f"{agent} {value:+.3f}" for agent, value in ranked)
        )
