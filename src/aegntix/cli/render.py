"""How the CLI shows things: transcript lines, outcome tables, branch trees, charts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.markup import escape
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from aegntix.errors import printable
from aegntix.inject.registry import hearing
from aegntix.model.events import Branch, Event, EventKind
from aegntix.model.scenario import Scenario

_COLOURS = ["cyan", "magenta", "green", "yellow", "blue", "red", "bright_cyan", "bright_magenta"]


def fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "—"}[value]
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 100 else f"{value:.3f}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={fmt(v)}" for k, v in value.items())
    return str(value)


def agent_style(scenario: Scenario, agent_id: str | None) -> str:
    ids = [a.id for a in scenario.agents]
    return _COLOURS[ids.index(agent_id) % len(_COLOURS)] if agent_id in ids else "white"


def event_line(scenario: Scenario, event: Event, *, verbose: bool = False) -> Text | None:
    """One transcript line, led by its seq (what ``--from`` and ``memories --why`` take) and
    step (what ``fork --at`` takes); None for bookkeeping events unless ``verbose``."""
    p = event.payload
    head = Text(f"#{event.seq:<5} step {event.step:<3} ", style="dim")
    if event.kind in (EventKind.MESSAGE, EventKind.ACTION) and event.agent_id:
        agent = scenario.agent(event.agent_id)
        head.append(f"{agent.name} ({agent.role})", style=f"bold {agent_style(scenario, agent.id)}")
        if event.kind == EventKind.ACTION:
            head.append(f" ⚙ {p.get('action')}", style="bold")
        if p.get("to"):
            head.append(f" → {', '.join(p['to'])}", style="dim")
        head.append(": " + str(p.get("text", "")))
        tags = [f"{k} {fmt(v)}" for k, v in (p.get("fields") or {}).items() if k != "action"]
        if tags:
            head.append(f"  [{'; '.join(tags)}]", style="dim")
        return head
    if event.kind == EventKind.INJECTION:
        heard = hearing(p, event.step).agents  # its strategy says who hears this event
        who = "everyone" if heard is None else ", ".join(sorted(heard)) or "no one yet"
        head.append(f"⚡ injection ({p.get('strategy')} → {who}): ", style="bold yellow")
        head.append(str(p.get("content", "")), style="yellow")
        return head
    if event.kind == EventKind.TOOL_RESULT and event.agent_id:
        agent = scenario.agent(event.agent_id)
        head.append(f"{agent.name} ({agent.role})", style=f"bold {agent_style(scenario, agent.id)}")
        head.append(f" 🔧 {p.get('name')}", style="bold")
        # A tool server's text is foreign: control characters are shown escaped.
        if "error" in p:
            head.append(f" ✗ {printable(str(p['error']))}", style="red")
        else:
            value = p.get("result")
            if isinstance(value, dict) and list(value) == ["result"]:
                value = value["result"]
            shown = printable(fmt(value))
            head.append(" → " + (shown if len(shown) <= 120 else shown[:119] + "…"))
            if p.get("truncated"):
                head.append(" (truncated)", style="dim")
        return head
    if event.kind == EventKind.SYSTEM and p.get("type") == "rejected":
        head.append(f"✗ {event.agent_id}: {p.get('reason')}", style="red")
        return head
    if not verbose:
        return None
    head.append(f"{event.kind}", style="dim bold")
    head.append(f" {event.agent_id or ''} {p}", style="dim")
    return head


def outcome_table(
    title: str,
    columns: Sequence[str],
    rows: Mapping[str, Sequence[Any]],
    first: str = "outcome",
) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(first, style="bold")
    for col in columns:
        table.add_column(col, justify="right")
    for name, values in rows.items():
        table.add_row(name, *(fmt(v) for v in values))
    return table


def branch_tree(branches: Iterable[Branch], names: Mapping[str, str]) -> Tree:
    """Branches as a tree per scenario: a picture of the timelines."""
    branches = list(branches)
    root = Tree("[bold]timelines[/]")
    by_parent: dict[str | None, list[Branch]] = {}
    for b in branches:
        by_parent.setdefault(b.parent_id, []).append(b)

    def label(b: Branch) -> str:
        fork = f" fork@{b.fork_step}" if b.parent_id else ""
        text = (
            f"[bold]{b.id}[/] [cyan]{b.label}[/]{fork} · step {b.head_step}"
            f" · {b.head_seq} events · [magenta]{b.status}[/]"
        )
        if b.failure is not None:  # why, so nobody has to dig in a log
            reason = escape(f"failed at step {b.failure.step}: {b.failure.detail}")
            text += f"\n[red]{reason}[/]"
        return text

    def add(node: Tree, parent: str | None) -> None:
        for b in by_parent.get(parent, []):
            add(node.add(label(b)), b.id)

    scenario_nodes: dict[str, Tree] = {}
    for b in by_parent.get(None, []):
        node = scenario_nodes.get(b.scenario_id)
        if node is None:
            node = root.add(
                f"[green]{names.get(b.scenario_id, b.scenario_id)}[/] ({b.scenario_id})"
            )
            scenario_nodes[b.scenario_id] = node
        add(node.add(label(b)), b.id)
    return root


def divergence_chart(series: Sequence[tuple[int, float]], width: int = 40) -> Text:
    """Horizontal bars, one per step: how far apart the two futures are (0 = identical)."""
    text = Text()
    if not series:
        text.append("(no steps to compare)", style="dim")
        return text
    peak = max((d for _, d in series), default=0.0) or 1.0
    for step, distance in series:
        cells = distance / peak * width
        full = int(cells)
        partial = " ▏▎▍▌▋▊▉"[int((cells - full) * 8)] if full < width else ""
        text.append(f"step {step:>4} │", style="dim")
        text.append("█" * full + partial.strip(), style="magenta")
        text.append(f" {distance:.3f}\n")
    return text


def _bar(direction: float, weight: float, width: int = 5) -> Text:
    """A centred bar: filled left for against, right for for, as long as the weight."""
    cells = round(min(1.0, weight) * width)
    left = "█" * cells if direction < 0 else ""
    right = "█" * cells if direction > 0 else ""
    bar = Text(" " * (width - len(left)))
    bar.append(left, style="red")
    bar.append("│", style="dim")
    bar.append(right, style="green")
    bar.append(" " * (width - len(right)))
    return bar


def explain_table(found: Mapping[str, Any]) -> Table:
    """``aegntix fork --explain``: how each agent reads the injection (``Preview.json()``)."""
    table = Table(title="how the rules brain reads it", title_justify="left")
    table.add_column("agent", no_wrap=True, max_width=20, overflow="ellipsis")
    table.add_column("reads", no_wrap=True, min_width=11)
    for name in ("dir", "str", "rel"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("effect", no_wrap=True)
    table.add_column("why", overflow="fold", ratio=1)
    for a in found["agents"]:
        table.add_row(
            a["name"],
            _bar(a["direction"], a["weight"]),
            f"{a['direction']:+.2f}",
            f"{a['strength']:.2f}",
            f"{a['relevance']:.2f}",
            a["effect"],
            a["reason"],
        )
    table.caption = "dir: direction (-1 against .. +1 for); str: strength; rel: relevance"
    table.caption_justify = "left"
    return table
