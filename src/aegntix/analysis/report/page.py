"""The report as one self-contained HTML document: inline CSS and SVG, no script, no URL.

Every user string (scenario name, injection text, agent and outcome names) is escaped with
``html.escape``; numbers carry their exact value in ``data-value`` for scripts and tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from aegntix.analysis.report import charts, svg
from aegntix.analysis.report.charts import Fan, Group
from aegntix.analysis.report.data import ReportInput
from aegntix.analysis.report.svg import esc
from aegntix.analysis.report.svg import short as fmt

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 760px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
.sub { color: #555; margin-top: 0; }
.sentence { font-size: 1.3em; font-weight: 600; margin: .6em 0; }
.note { background: #fff4e5; border-left: 4px solid #d55e00; padding: .5em .8em; }
table { border-collapse: collapse; margin: .6em 0; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .2em .7em .2em 0; border-bottom: 1px solid #eee;
         vertical-align: top; }
table.members td.n, table.summary td.n { text-align: right; } code { font-size: .92em; }
.injection { white-space: pre-wrap; background: #f6f6f6; padding: .4em .6em; }
svg { max-width: 100%; height: auto; display: block; margin: .6em 0; }
details summary { cursor: pointer; font-weight: 600; }
details { overflow-x: auto; } table.members { font-size: .85em; }
.glance li { font-size: 1.1em; margin: .3em 0; }
footer { margin-top: 3em; color: #666; font-size: .85em; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; }
               svg, table.effect, table.summary { break-inside: avoid; }
               details::details-content { content-visibility: visible; display: block; } }
"""

METHOD = """
<ul>
<li><b>Mean and its interval.</b> For a number outcome: the mean over the finished futures
with a 95% bootstrap interval (BCa, 1,999 seeded resamples). For a yes/no outcome: the share
of futures where it is yes with a 95% <b>Wilson</b> score interval.</li>
<li><b>Effect.</b> Paired (the intervention set against its control: the same seeds, so future
<i>i</i> of each differs only by the injection): the mean of the per-pair differences (for
yes/no the risk difference in points) with a bootstrap interval over pairs; the effect size is
Cohen's d<sub>z</sub> (numbers) or Cohen's h (yes/no). Unpaired (any other set): the
difference of means with each set resampled on its own; Cohen's d or h.</li>
<li><b>p-value.</b> A two-sided permutation test: paired, each pair's two futures swapped at
random (sign flips); unpaired, the pooled values re-split. "Exact" when every rearrangement was
counted. "No detectable effect" means the 95% interval covers 0.</li>
<li><b>Fan chart.</b> Per step, percentiles across the futures (p5, p25, median, p75, p95); a
future that ended early keeps its last value.</li>
<li><b>Split step.</b> The first step where a two-sample Kolmogorov–Smirnov test of the two
sets' values has p &lt; 0.05 (not corrected for testing many steps).</li>
</ul>
<p>Definitions: <code>docs/rollout-statistics.md</code> in the AegntiX documentation.</p>
"""


def _value(value: Any, shown: str | None = None) -> str:
    """A table cell holding a number, its exact value in ``data-value``."""
    if value is None:
        return "<td>—</td>"
    if isinstance(value, bool):
        return f'<td data-value="{str(value).lower()}">{"yes" if value else "no"}</td>'
    if isinstance(value, int | float):
        return f'<td class="n" data-value="{value!r}">{esc(shown or fmt(float(value)))}</td>'
    return f"<td>{esc(value)}</td>"


def _rows(pairs: Iterable[tuple[str, str]]) -> str:
    return "".join(f"<tr><th>{esc(k)}</th>{v}</tr>" for k, v in pairs)


def _injection(injection: dict[str, Any] | None) -> str:
    if not injection:
        return "<p>No injection: these futures differ only by their seeds.</p>"
    targets = injection.get("targets") or []
    extra = dict(injection.get("fields") or {}) | {
        f"world.{k}": v for k, v in (injection.get("world") or {}).items()
    }
    details = [
        ("strategy", f"<td>{esc(injection.get('strategy', ''))}</td>"),
        ("targets", f"<td>{esc(', '.join(targets) if targets else 'every agent')}</td>"),
        *((k, _value(v)) for k, v in extra.items()),
    ]
    return (
        f'<p class="injection" data-testid="injection">{esc(injection.get("content", ""))}</p>'
        f"<table>{_rows(details)}</table>"
    )


def _header(data: ReportInput) -> str:
    r = data.rollout
    done, total = r["progress"]["done"], r["progress"]["total"]
    compared = "nothing (no control set: compare with another set by --vs SET)"
    if data.other is not None:
        kind = "paired control, same seeds" if data.paired else "unpaired"
        compared = f"{data.other['id']} ({kind})"
    facts = [
        ("set", f"<td><code>{esc(r['id'])}</code></td>"),
        ("scenario", f"<td>{esc(data.scenario_name)}</td>"),
        (
            "forked from",
            f"<td>branch <code>{esc(r['parent_id'])}</code> after step {esc(r['fork_step'])}</td>",
        ),
        ("futures (N)", _value(r["n"], str(r["n"]))),
        ("seed base", f"<td><code>{esc(r['seed_base'])}</code></td>"),
        ("status", f"<td>{esc(r['status'])}, {done} of {total} finished</td>"),
        ("compared with", f"<td>{esc(compared)}</td>"),
    ]
    warning = ""
    if done < total:
        warning = (
            f'<p class="note">{done} of {total} futures have finished: every number below '
            f"covers the finished ones only (<code>aegntix rollouts continue {esc(r['id'])}"
            "</code> runs the rest).</p>"
        )
    return (
        f"<header><h1>What happens across {total} futures of "
        f'“{esc(data.scenario_name)}”</h1><p class="sub">Rollout set report · generated '
        f"{esc(data.generated_at.strftime('%Y-%m-%d %H:%M UTC'))} · AegntiX "
        f"{esc(data.version)}</p></header>{warning}<table>{_rows(facts)}</table>"
        f"<h2>The injection</h2>{_injection(r['injection'])}"
    )


def _finished_values(members: Sequence[dict[str, Any]], name: str) -> list[Any]:
    return [
        m["outcomes"][name]
        for m in members
        if m["status"] == "done" and m["outcomes"] and m["outcomes"].get(name) is not None
    ]


def _groups(data: ReportInput, name: str, entry: dict[str, Any]) -> list[Group]:
    """The set (and the compared set) as chart rows: the summaries the effect used."""
    effect = entry.get("effect") or {}
    mine, theirs = data.labels()
    summaries = [(mine, svg.SET_COLOUR, effect.get("treated") or entry["summary"], data.members)]
    if effect.get("control"):
        summaries.append((theirs, svg.VS_COLOUR, effect["control"], data.other_members))
    return [
        Group(
            label,
            colour,
            _finished_values(members, name),
            s.get("mean"),
            s.get("ci_low"),
            s.get("ci_high"),
        )
        for label, colour, s, members in summaries
    ]


def _effect_table(effect: dict[str, Any]) -> str:
    low, high = effect.get("ci_low"), effect.get("ci_high")
    yes_no = effect.get("kind") == "yes/no"
    unit = " points" if yes_no else ""
    scale = 100.0 if yes_no else 1.0
    p = effect.get("p_value")
    rows = [
        (
            "difference",
            _value(
                effect.get("difference"),
                None
                if effect.get("difference") is None
                else fmt(effect["difference"] * scale) + unit,
            ),
        ),
        ("95% CI low", _value(low, None if low is None else fmt(low * scale) + unit)),
        ("95% CI high", _value(high, None if high is None else fmt(high * scale) + unit)),
        (
            f"effect size ({effect.get('effect_size_kind') or '—'})",
            _value(effect.get("effect_size")),
        ),
        (
            "p-value" + (" (exact)" if effect.get("p_exact") else ""),
            _value(p, None if p is None else f"{p:.2g}"),
        ),
        ("comparison", f"<td>{'paired' if effect.get('paired') else 'unpaired'}</td>"),
        ("detectable", f"<td>{'yes' if effect.get('detectable') else 'no (the CI covers 0)'}</td>"),
    ]
    notes = "".join(f"<li>{esc(n)}</li>" for n in effect.get("notes") or [])
    return f'<table class="effect">{_rows(rows)}</table>' + (f"<ul>{notes}</ul>" if notes else "")


def _summary_table(kind: str, columns: Sequence[tuple[str, dict[str, Any]]]) -> str:
    """Each set's n, mean (rate), interval, sd and, for numbers, quantiles side by side."""

    def percent(value: float) -> str:
        return f"{value * 100:.1f}".removesuffix(".0") + "%"

    text = percent if kind == "yes/no" else fmt

    def interval(s: dict[str, Any]) -> str:
        shown = charts.interval(s.get("ci_low"), s.get("ci_high"), text)
        return f"<td>{esc(shown)} ({esc(s.get('ci_method'))})</td>"

    def mean(s: dict[str, Any]) -> str:
        return _value(s.get("mean"), None if s.get("mean") is None else text(s["mean"]))

    rows = [
        ("n", [_value(s.get("n"), str(s.get("n"))) for _, s in columns]),
        ("mean" if kind == "number" else "rate", [mean(s) for _, s in columns]),
        ("95% CI", [interval(s) for _, s in columns]),
        ("sd", [_value(s.get("sd")) for _, s in columns]),
    ]
    if kind == "number":
        for q in ("p5", "p25", "p50", "p75", "p95"):
            rows.append((q, [_value((s.get("quantiles") or {}).get(q)) for _, s in columns]))
    head = "".join(f"<th>{esc(label)}</th>" for label, _ in columns)
    body = "".join(f"<tr><th>{esc(k)}</th>{''.join(cells)}</tr>" for k, cells in rows)
    return f'<table class="summary"><thead><tr><th></th>{head}</tr></thead>{body}</table>'


def _outcome(data: ReportInput, name: str, entry: dict[str, Any]) -> str:
    kind = entry.get("kind")
    parts = [
        f'<section class="outcome" data-outcome="{esc(name)}"><h2>{esc(name)} '
        f"<small>({esc(kind or 'nothing to count')})</small></h2>"
    ]
    if kind == "per agent":
        agents = entry.get("agents") or {}
        if not agents:
            parts.append("<p>Per-agent effects need a paired control set.</p>")
        else:
            parts.append(charts.effects_chart(f"{name}: effect per agent", agents, f"{name} shift"))
            parts.append(
                '<p class="sentences">'
                + "<br>".join(esc(e["sentence"]) for e in agents.values() if e.get("sentence"))
                + "</p>"
            )
        return "".join(parts) + "</section>"
    if kind not in ("yes/no", "number"):
        return "".join(parts) + "<p>No finished future recorded a value.</p></section>"
    effect = entry.get("effect")
    if effect:
        parts.append(f'<p class="sentence">{esc(effect["sentence"])}</p>')
        parts.append(_effect_table(effect))
    summary = entry["summary"]
    groups = _groups(data, name, entry)
    if kind == "yes/no":
        parts.append(charts.rate_chart(f"{name}: share of futures, 95% Wilson interval", groups))
    else:
        parts.append(charts.strip_chart(f"{name}: every future, mean and 95% CI", name, groups))
    effect = entry.get("effect") or {}
    columns = [(data.labels()[0], summary)]
    if effect.get("control"):
        columns.append((data.labels()[1], effect["control"]))
    parts.append(_summary_table(kind, columns))
    fan = _fan(data, name)
    if fan:
        parts.append(fan)
    return "".join(parts) + "</section>"


def _fan(data: ReportInput, name: str) -> str:
    bands = (data.stats.get("bands") or {}).get(name)
    if not bands:
        return ""
    mine, theirs = data.labels()
    fans = [Fan(mine, svg.SET_COLOUR, bands["set"])]
    if bands.get("vs"):
        fans.append(Fan(theirs, svg.VS_COLOUR, bands["vs"]))
    split = (data.stats.get("split") or {}).get(name) or {}
    chart = charts.fan_chart(
        f"{name} over steps: median and percentile bands",
        name,
        fans,
        fork_step=data.rollout["fork_step"],
        split_step=split.get("split_step"),
    )
    said = ""
    if split:
        step = split.get("split_step")
        said = (
            f"<p>The futures split at step {step} (first step with KS p &lt; 0.05); the "
            f"largest separation is at step {split.get('max_step')} (KS statistic "
            f"{fmt(split.get('max_statistic') or 0)}).</p>"
            if step is not None
            else "<p>No step where the two sets' distributions separate (KS p &lt; 0.05).</p>"
        )
    return f"<h3>{esc(name)} step by step</h3>{chart}{said}"


def _members(title: str, members: Sequence[dict[str, Any]], names: Sequence[str]) -> str:
    head = "".join(f"<th>{esc(n)}</th>" for n in ["#", "seed", "branch", "status", *names])
    rows = []
    for m in members:
        outcomes = m["outcomes"] or {}
        cells = [
            _value(m["index"], str(m["index"])),
            f"<td><code>{esc(m['seed'])}</code></td>",
            f"<td><code>{esc(m['branch_id'])}</code></td>",
            f"<td>{esc(m['status'])}</td>",
            *(_value(outcomes.get(n)) for n in names),
        ]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<details class="members"><summary>{esc(title)} ({len(members)})</summary>'
        f'<table class="members"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></details>"
    )


def _glance(data: ReportInput) -> str:
    """Every outcome's effect sentence up front: the answer before the evidence."""
    said = [e["effect"]["sentence"] for e in data.stats["outcomes"].values() if e.get("effect")]
    if not said:
        return (
            "<h2>What it found</h2><p>No set to compare with: below, each outcome's "
            "distribution across these futures.</p>"
        )
    items = "".join(f"<li>{esc(s)}</li>" for s in said)
    notes = "".join(f'<p class="note">{esc(n)}</p>' for n in data.stats.get("notes", []))
    return f'<h2>What it found</h2><ul class="glance">{items}</ul>{notes}'


def render(data: ReportInput) -> str:
    """The whole HTML document."""
    outcomes = data.stats["outcomes"]
    scalar = [n for n, e in outcomes.items() if e.get("kind") in ("yes/no", "number")]
    sections = [_outcome(data, name, entry) for name, entry in outcomes.items()]
    mine, theirs = data.labels()
    members = _members(f"Members {mine}", data.members, scalar)
    if data.other is not None:
        members += _members(f"Members {theirs}", data.other_members, scalar)
    title = f"Rollout set {data.rollout['id']} · {data.scenario_name}"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"{_header(data)}{_glance(data)}{''.join(sections)}"
        f"<h2>The futures</h2><p>Every member is an ordinary branch: open it with "
        f"<code>aegntix events BRANCH</code> or in the web UI.</p>{members}"
        f"<h2>How to read this</h2>{METHOD}"
        f"<footer>AegntiX {esc(data.version)} · generated "
        f"{esc(data.generated_at.isoformat(timespec='seconds'))}</footer></body></html>\n"
    )
