"""How the CLI shows a rollout set's statistics: a table of outcomes with 95% CIs, the effect
in words, a terminal histogram per outcome (the compared set's too), per-agent effects."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from aegntix.cli.common import console

BAR = 30


def _ci(low: Any, high: Any) -> str:
    if low is None or high is None:
        return "—"
    return f"[{low:.3g} – {high:.3g}]"


def print_stats(stats: dict[str, Any]) -> None:
    """Outcomes (mean or rate with its CI), then each effect's sentence, histograms, agents."""
    table = Table("outcome", "kind", "n", "mean / rate", "95% CI", "sd", title="outcomes")
    for name, entry in stats["outcomes"].items():
        summary = entry.get("summary")
        if not summary:
            continue
        table.add_row(
            name,
            entry["kind"],
            str(summary.get("n")),
            f"{summary.get('mean', 0):.3g}" if summary.get("mean") is not None else "—",
            _ci(summary.get("ci_low"), summary.get("ci_high")),
            f"{summary.get('sd'):.3g}" if summary.get("sd") is not None else "—",
        )
    console.print(table)
    for note in stats.get("notes", []):
        console.print(f"[yellow]note:[/] {escape(note)}", soft_wrap=True)
    if stats.get("vs"):
        console.print(f"effect vs {stats['vs']} ({stats['comparison']}):")
    for name, entry in stats["outcomes"].items():
        effect = entry.get("effect")
        if effect:
            console.print(f"  {escape(effect['sentence'])}", soft_wrap=True)
        split = stats.get("split", {}).get(name)
        if split and split.get("split_step") is not None:
            console.print(f"    futures part at step {split['split_step']} (first KS p < 0.05)")
    for name, entry in stats["outcomes"].items():
        summary = entry.get("summary") or {}
        if summary.get("histogram_counts"):
            control = (entry.get("effect") or {}).get("control") or {}
            _histogram(name, entry["kind"], summary, control, str(stats.get("vs")))
        agents = entry.get("agents")
        if agents:
            rows = Table("agent", "shift", "95% CI", "p", title=f"{name} per agent")
            for agent, eff in agents.items():
                rows.add_row(
                    agent,
                    "—" if eff.get("difference") is None else f"{eff['difference']:+.3f}",
                    _ci(eff.get("ci_low"), eff.get("ci_high")),
                    "—" if eff.get("p_value") is None else f"{eff['p_value']:.3g}",
                )
            console.print(rows)


def _histogram(
    name: str, kind: str, summary: dict[str, Any], other: dict[str, Any], other_id: str
) -> None:
    """The set's distribution as bars of unicode blocks; below it, the compared set's."""
    for label, colour, shown in (
        ("this set", "dark_orange", summary),
        (f"vs {other_id}", "blue", other),
    ):
        counts = shown.get("histogram_counts") or []
        if not counts:
            continue
        edges, top = shown["histogram_edges"], max(counts) or 1
        console.print(f"{escape(name)} · {label} (n = {sum(counts)}):")
        for i, count in enumerate(counts):
            span = (
                ("no", "yes")[i] if kind == "yes/no" else f"{edges[i]:>9.3g} – {edges[i + 1]:<9.3g}"
            )
            bar = _blocks(BAR * count / top)
            console.print(f"  {span:>21} [{colour}]{bar}[/] {count}")


def _blocks(width: float) -> str:
    """``width`` character cells of bar, eighths included (▏▎▍▌▋▊▉)."""
    whole, eighths = int(width), round((width % 1) * 8)
    return "█" * whole + ("" if eighths == 0 else " ▏▎▍▌▋▊▉█"[eighths])
