"""The report's charts as inline SVG: yes/no rates with Wilson intervals, a strip plot of a
numeric outcome with mean and CI, a fan chart of per-step percentile bands, and per-agent
effects as dots with whiskers. Inputs are the plain dicts ``set_stats`` returns."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aegntix.analysis.report import svg
from aegntix.analysis.report.svg import Scale
from aegntix.analysis.report.svg import short as fmt

WIDTH = 720
LABEL_W = 150  # room for row labels on the left
VALUE_W = 210  # room for the value text on the right
GOLDEN = (math.sqrt(5) - 1) / 2


@dataclass(frozen=True, slots=True)
class Group:
    """One set's values of an outcome: label, colour, the values and their summary."""

    label: str
    colour: str
    values: Sequence[float]
    mean: float | None
    ci_low: float | None
    ci_high: float | None


def interval(low: float | None, high: float | None, text: Any = fmt) -> str:
    if low is None or high is None:
        return "no interval"
    return f"[{text(low)} to {text(high)}]" if low < 0 else f"[{text(low)}–{text(high)}]"


def _side_text(middle: float, shown: str) -> str:
    """A row's value, in the room right of the plot."""
    return svg.text(WIDTH - VALUE_W + 10, middle + 4, shown, size=11)


def _percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def rate_chart(title: str, groups: Sequence[Group]) -> str:
    """Per set, the share of yes as a bar with its Wilson interval, on a 0–100% axis."""
    row = 40
    top, height = 12, 12 + row * len(groups) + 44
    x = Scale((0.0, 1.0), (LABEL_W, WIDTH - VALUE_W))
    body = [svg.x_axis(x, top + row * len(groups), top, "share of futures (yes)", percent=True)]
    for i, group in enumerate(groups):
        middle = top + row * i + row / 2
        body.append(svg.text(LABEL_W - 8, middle + 4, group.label, anchor="end"))
        if group.mean is None:
            body.append(svg.text(LABEL_W + 4, middle + 4, "no finished futures"))
            continue
        yes = sum(1 for v in group.values if v)
        body.append(
            svg.rect(
                x(0),
                middle - 11,
                x(group.mean) - x(0),
                22,
                fill=group.colour,
                title=f"{group.label}: {yes} of {len(group.values)} futures yes",
            )
        )
        if group.ci_low is not None and group.ci_high is not None:
            body.append(svg.whisker(x(group.ci_low), x(group.ci_high), middle, stroke=svg.INK))
        body.append(svg.circle(x(group.mean), middle, 4, fill=svg.INK))
        shown = f"{_percent(group.mean)} {interval(group.ci_low, group.ci_high, _percent)}"
        body.append(_side_text(middle, shown))
    return svg.document(
        WIDTH, height, title, body, desc="Bars: share of futures; whiskers: 95% Wilson interval."
    )


def strip_chart(title: str, name: str, groups: Sequence[Group]) -> str:
    """Every future's value as a dot (one row per set, spread vertically so they do not
    hide each other), the mean as a tall tick and its 95% interval as a whisker."""
    row = 70
    top, height = 12, 12 + row * len(groups) + 44
    extremes = [v for g in groups for v in (*g.values, g.ci_low, g.ci_high) if v is not None]
    x = Scale(svg.padded(extremes), (LABEL_W, WIDTH - VALUE_W))
    body = [svg.x_axis(x, top + row * len(groups), top, name)]
    for i, group in enumerate(groups):
        middle = top + row * i + row / 2 - 6
        body.append(svg.text(LABEL_W - 8, middle + 4, group.label, anchor="end"))
        dots = [
            svg.circle(
                x(v),
                middle + ((k * GOLDEN) % 1 - 0.5) * 26,
                3,
                fill=group.colour,
                fill_opacity="0.55",
                # a tooltip per dot while they stay few: keeps a 1,000-future file small
                title=f"{group.label}, future {k}: {fmt(v)}" if len(group.values) <= 100 else "",
            )
            for k, v in enumerate(group.values)
        ]
        body.append("".join(dots))
        if group.mean is not None:
            if group.ci_low is not None and group.ci_high is not None:
                body.append(
                    svg.whisker(x(group.ci_low), x(group.ci_high), middle + 22, stroke=svg.INK)
                )
            body.append(
                svg.line(
                    x(group.mean),
                    middle - 18,
                    x(group.mean),
                    middle + 27,
                    stroke=svg.INK,
                    stroke_width="2",
                )
            )
            shown = f"mean {fmt(group.mean)} {interval(group.ci_low, group.ci_high)}"
            body.append(_side_text(middle, shown))
    desc = "Dots: one future each; tall tick: the mean; whisker: its 95% bootstrap interval."
    return svg.document(WIDTH, height, title, body, desc=desc)


@dataclass(frozen=True, slots=True)
class Fan:
    """One set's per-step bands (``set_stats``' ``bands[outcome][set|vs]``)."""

    label: str
    colour: str
    bands: dict[str, Any]


def fan_chart(
    title: str, name: str, fans: Sequence[Fan], *, fork_step: int, split_step: int | None
) -> str:
    """p5–p95 (light) and p25–p75 (darker) bands and the median line over steps, each set in
    its colour; the fork step and the split step marked."""
    height, top, bottom, left, right = 320, 52, 270, 70, WIDTH - 20
    steps = [[b["first_step"] + k for k in range(b["steps"])] for b in (f.bands for f in fans)]
    last = max((s[-1] for s in steps if s), default=fork_step + 1)
    first = min([fork_step, *(s[0] for s in steps if s)])
    x = Scale((float(first), float(max(last, first + 1))), (left, right), integer=True)
    values = [v for f in fans for key in ("p5", "p95") for v in f.bands["values"][key]]
    y = Scale(svg.padded(values), (bottom, top))
    body = [
        svg.x_axis(x, bottom, top, "step"),
        svg.y_axis(y, left, right, name),
    ]
    for fan, xs in zip(fans, steps, strict=True):
        vals = fan.bands["values"]

        def points(
            key: str, xs: list[int] = xs, vals: dict[str, Any] = vals
        ) -> list[tuple[float, float]]:
            return [(x(s), y(v)) for s, v in zip(xs, vals[key], strict=True)]

        body.append(svg.band(points("p95"), points("p5"), fill=fan.colour, opacity=0.15))
        body.append(svg.band(points("p75"), points("p25"), fill=fan.colour, opacity=0.3))
        body.append(svg.polyline(points("p50"), stroke=fan.colour))
    # The fork label sits left of its line unless the line is near the left edge; the split
    # label right of its line, one row lower when it would run into the fork label.
    fork_x = x(fork_step)
    fork_anchor = "end" if fork_x - left > 90 else "start"
    marks = [(fork_x, f"fork · step {fork_step}", fork_anchor, top - 8)]
    if split_step is not None:
        split_x = x(split_step)
        crowded = fork_anchor == "start" and split_x - fork_x < 110
        marks.append(
            (split_x, f"split · step {split_step}", "start", top + (12 if crowded else -8))
        )
    for at, label, anchor, label_y in marks:
        body.append(svg.line(at, top - 6, at, bottom, stroke=svg.INK, stroke_dasharray="4 3"))
        nudge = -4 if anchor == "end" else 4
        body.append(
            svg.text(
                at + nudge,
                label_y,
                label,
                anchor=anchor,
                size=11,
                paint_order="stroke",
                stroke="white",
                stroke_width="3",  # legible over lines
            )
        )
    body.append(svg.legend(left, 14, [(f.colour, f.label) for f in fans]))
    body.append(
        svg.text(right, 14, "line: median · dark: p25–p75 · light: p5–p95", anchor="end", size=11)
    )
    return svg.document(
        WIDTH,
        height,
        title,
        body,
        desc="Per step across the futures: line = median, dark band = p25–p75, "
        "light band = p5–p95; dashed lines mark the fork and the split step.",
    )


def effects_chart(title: str, effects: dict[str, dict[str, Any]], unit: str) -> str:
    """Per-agent effects, largest first: a dot at the difference, a whisker for its 95%
    interval, and a zero line."""
    rows = sorted(
        ((k, e) for k, e in effects.items() if e.get("difference") is not None),
        key=lambda item: -float(item[1]["difference"]),
    )
    row, top = 26, 12
    height = top + row * max(1, len(rows)) + 44
    extremes = [
        float(e[key])
        for _, e in rows
        for key in ("difference", "ci_low", "ci_high")
        if e.get(key) is not None
    ]
    x = Scale(svg.padded(extremes, include=[0.0]), (LABEL_W, WIDTH - VALUE_W))
    body = [svg.x_axis(x, top + row * max(1, len(rows)), top, unit)]
    body.append(
        svg.line(x(0), top, x(0), top + row * max(1, len(rows)), stroke=svg.INK, stroke_width="1.5")
    )
    for i, (agent, effect) in enumerate(rows):
        middle = top + row * i + row / 2
        body.append(svg.text(LABEL_W - 8, middle + 4, agent, anchor="end"))
        diff = float(effect["difference"])
        low, high = effect.get("ci_low"), effect.get("ci_high")
        if low is not None and high is not None:
            body.append(svg.whisker(x(low), x(high), middle, stroke=svg.SET_COLOUR, cap=4))
        body.append(
            svg.circle(x(diff), middle, 4.5, fill=svg.SET_COLOUR, title=f"{agent}: {fmt(diff)}")
        )
        shown = f"{'+' if diff > 0 else ''}{fmt(diff)} {interval(low, high)}"
        body.append(_side_text(middle, shown))
    desc = "Dot: the agent's mean paired difference; whisker: its 95% bootstrap interval."
    return svg.document(WIDTH, height, title, body, desc=desc)
