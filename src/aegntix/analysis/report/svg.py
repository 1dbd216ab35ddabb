"""Small SVG primitives for the report's charts: a linear scale with round ticks, axes, marks.

Every function returns SVG markup as a string; every piece of text goes through :func:`esc`,
so user strings (outcome and agent names) cannot inject markup.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

from aegntix.analysis._values import fmt

#: Colour-blind safe pair (Okabe–Ito): the set (intervention) and the set it is compared with.
SET_COLOUR = "#d55e00"
VS_COLOUR = "#0072b2"
INK = "#222"
GRID = "#ddd"
FONT = 12


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def short(value: float) -> str:
    """A number as the effect sentences write it, rounded to three significant digits
    first (so 0.09999 reads 0.100, not 0.1000)."""
    return fmt(value if abs(value) >= 100 else float(f"{value:.3g}"))


def num(value: float) -> str:
    """A coordinate: short, no exponent."""
    return f"{value:.1f}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round ticks (1, 2 or 5 × 10^k apart) covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        return [low]
    raw = (high - low) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    # k * step, not repeated addition: no 0.30000000000000004 creeping in
    digits = max(0, -math.floor(math.log10(step))) + 2
    return [round(k * step, digits) + 0.0 for k in range(first, last + 1)]


def padded(values: Iterable[float], *, include: Sequence[float] = ()) -> tuple[float, float]:
    """A domain covering ``values`` (and ``include``) with 5% room on each side."""
    seen = [v for v in (*values, *include) if v is not None and math.isfinite(v)]
    if not seen:
        return 0.0, 1.0
    low, high = min(seen), max(seen)
    if high == low:
        room = abs(low) * 0.1 or 1.0
        return low - room, high + room
    room = (high - low) * 0.05
    return low - room, high + room


@dataclass(frozen=True, slots=True)
class Scale:
    """Maps the data interval ``domain`` onto the pixel interval ``range_``."""

    domain: tuple[float, float]
    range_: tuple[float, float]

    def __call__(self, value: float) -> float:
        (d0, d1), (r0, r1) = self.domain, self.range_
        if d1 == d0:
            return (r0 + r1) / 2
        return r0 + (value - d0) / (d1 - d0) * (r1 - r0)

    integer: bool = False  # ticks on whole numbers only (steps)

    def ticks(self, count: int = 5) -> list[float]:
        ticks = nice_ticks(min(self.domain), max(self.domain), count)
        if self.integer and len(ticks) > 1 and ticks[1] - ticks[0] < 1:
            ticks = [
                float(t) for t in range(math.ceil(min(self.domain)), int(max(self.domain)) + 1)
            ]
        return ticks


def tick_text(value: float, ticks: Sequence[float]) -> str:
    """A tick label with as many decimals as the tick spacing needs (2, 0.25, 1,500)."""
    gap = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else abs(value) or 1.0
    decimals = max(0, -math.floor(math.log10(gap) + 1e-9))
    if gap * 10**decimals % 1 > 1e-6:
        decimals += 1
    return f"{value:,.{decimals}f}".replace("-", "−")


def document(width: int, height: int, title: str, body: Iterable[str], *, desc: str = "") -> str:
    """An inline ``<svg>`` with an accessible title (and description). No ``xmlns``: inline in
    HTML it is implied, and the report names no URL at all."""
    described = f"<desc>{esc(desc)}</desc>" if desc else ""
    return (
        f'<svg viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" font-size="{FONT}" '
        f'font-family="system-ui, sans-serif"><title>{esc(title)}</title>{described}'
        + "".join(body)
        + "</svg>"
    )


def line(x1: float, y1: float, x2: float, y2: float, *, stroke: str = INK, **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{esc(v)}"' for k, v in attrs.items())
    return (
        f'<line x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}" '
        f'stroke="{stroke}"{extra}/>'
    )


def rect(x: float, y: float, width: float, height: float, *, fill: str, title: str = "") -> str:
    tip = f"<title>{esc(title)}</title>" if title else ""
    return (
        f'<rect class="mark" x="{num(x)}" y="{num(y)}" width="{num(max(0.0, width))}" '
        f'height="{num(max(0.0, height))}" fill="{fill}">{tip}</rect>'
    )


def circle(x: float, y: float, r: float, *, fill: str, title: str = "", **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{esc(v)}"' for k, v in attrs.items())
    tip = f"<title>{esc(title)}</title>" if title else ""
    return (
        f'<circle class="mark" cx="{num(x)}" cy="{num(y)}" r="{r}" fill="{fill}"{extra}>'
        f"{tip}</circle>"
    )


def text(
    x: float, y: float, content: str, *, anchor: str = "start", size: int = FONT, **attrs: str
) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{esc(v)}"' for k, v in attrs.items())
    return (
        f'<text x="{num(x)}" y="{num(y)}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="{INK}"{extra}>{esc(content)}</text>'
    )


def polyline(points: Sequence[tuple[float, float]], *, stroke: str, width: float = 2) -> str:
    coords = " ".join(f"{num(x)},{num(y)}" for x, y in points)
    return (
        f'<polyline class="mark" points="{coords}" fill="none" stroke="{stroke}" '
        f'stroke-width="{width}"/>'
    )


def band(
    upper: Sequence[tuple[float, float]],
    lower: Sequence[tuple[float, float]],
    *,
    fill: str,
    opacity: float,
) -> str:
    """The area between two lines drawn over the same x positions."""
    coords = " ".join(f"{num(x)},{num(y)}" for x, y in [*upper, *reversed(lower)])
    return f'<polygon class="mark" points="{coords}" fill="{fill}" fill-opacity="{opacity}"/>'


def whisker(x1: float, x2: float, y: float, *, stroke: str, cap: float = 5) -> str:
    """A horizontal interval with end caps (a confidence interval)."""
    return (
        f'<g class="mark" stroke="{stroke}" stroke-width="2">'
        + line(x1, y, x2, y, stroke=stroke)
        + line(x1, y - cap, x1, y + cap, stroke=stroke)
        + line(x2, y - cap, x2, y + cap, stroke=stroke)
        + "</g>"
    )


def x_axis(scale: Scale, y: float, top: float, label: str, *, percent: bool = False) -> str:
    """Ticks, grid lines up to ``top`` and the axis label below the plot."""
    parts = [line(scale.range_[0], y, scale.range_[1], y)]
    ticks = scale.ticks(6)
    for tick in ticks:
        x = scale(tick)
        parts.append(line(x, top, x, y, stroke=GRID))
        parts.append(line(x, y, x, y + 4))
        shown = f"{tick * 100:.0f}%" if percent else tick_text(tick, ticks)
        parts.append(text(x, y + 16, shown, anchor="middle", size=11))
    middle = (scale.range_[0] + scale.range_[1]) / 2
    parts.append(text(middle, y + 32, label, anchor="middle"))
    return '<g class="axis">' + "".join(parts) + "</g>"


def y_axis(scale: Scale, x: float, right: float, label: str) -> str:
    """Ticks, grid lines across to ``right`` and a rotated axis label."""
    parts = [line(x, scale.range_[0], x, scale.range_[1])]
    ticks = scale.ticks(5)
    for tick in ticks:
        y = scale(tick)
        parts.append(line(x, y, right, y, stroke=GRID))
        parts.append(line(x - 4, y, x, y))
        parts.append(text(x - 6, y + 4, tick_text(tick, ticks), anchor="end", size=11))
    middle = (scale.range_[0] + scale.range_[1]) / 2
    parts.append(
        text(
            x - 48,
            middle,
            label,
            anchor="middle",
            transform=f"rotate(-90 {x - 48:.1f} {middle:.1f})",
        )
    )
    return '<g class="axis">' + "".join(parts) + "</g>"


def legend(x: float, y: float, entries: Sequence[tuple[str, str]]) -> str:
    """Colour swatches with labels, left to right."""
    parts = []
    for colour, label in entries:
        parts.append(
            f'<rect x="{num(x)}" y="{num(y - 9)}" width="12" height="12" fill="{colour}"/>'
        )
        parts.append(text(x + 16, y + 1, label))
        x += 16 + 7 * len(label) + 18
    return '<g class="legend">' + "".join(parts) + "</g>"
