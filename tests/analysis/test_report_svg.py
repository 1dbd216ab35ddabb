"""The report's SVG primitives and charts: round ticks that cover the data, labels with the
decimals the spacing needs, and charts that are well-formed XML with user text escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from aegntix.analysis.report import charts
from aegntix.analysis.report.charts import Fan, Group
from aegntix.analysis.report.svg import Scale, nice_ticks, padded, short, tick_text

BANDS = ["p5", "p25", "p50", "p75", "p95"]


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.0, 1.0, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]),
        (-0.141, 0.22, ["−0.1", "0.0", "0.1", "0.2"]),
        (16_120.0, 16_480.0, ["16,200", "16,300", "16,400"]),
        (1.0, 12.0, ["2", "4", "6", "8", "10", "12"]),
        (-5.0, -1.0, ["−5", "−4", "−3", "−2", "−1"]),
        (0.0, 0.5, ["0.0", "0.1", "0.2", "0.3", "0.4", "0.5"]),
    ],
)
def test_ticks_are_round_inside_the_range_and_labelled_plainly(
    low: float, high: float, expected: list[str]
) -> None:
    ticks = nice_ticks(low, high, 6)
    assert all(low <= t <= high for t in ticks)
    assert [tick_text(t, ticks) for t in ticks] == expected


def test_integer_scale_ticks_whole_steps_only() -> None:
    assert Scale((1.0, 3.0), (0.0, 100.0), integer=True).ticks(6) == [1.0, 2.0, 3.0]
    assert Scale((1.0, 3.0), (0.0, 100.0)).ticks(6)[1] == 1.5


def test_padding_and_short_numbers() -> None:
    assert padded([2.0, 2.0]) == (1.8, 2.2)  # one value: room around it, not a zero range
    assert padded([]) == (0.0, 1.0)
    assert padded([0.0, 10.0], include=[-10.0]) == (-11.0, 11.0)
    assert short(-0.09999) == "−0.100" and short(16_309.4) == "16,309" and short(0) == "0"


def test_charts_are_xml_with_marks_and_escaped_names() -> None:
    name = '<b onload="x()">&'
    groups = [
        Group(name, "#d55e00", [0.1, 0.2, 0.4], 0.233, 0.1, 0.4),
        Group("control", "#0072b2", [-0.1, 0.0], -0.05, -0.1, 0.0),
    ]
    bands = {
        "first_step": 1,
        "steps": 3,
        "values": {k: [0.0, 0.1 + i / 10, 0.2 + i / 10] for i, k in enumerate(BANDS)},
    }
    effects = {name: {"difference": 0.3, "ci_low": 0.1, "ci_high": 0.5}, "b": {"difference": -0.2}}
    drawn = [
        charts.rate_chart(name, [Group(name, "#d55e00", [True, False], 0.5, 0.1, 0.9)]),
        charts.strip_chart(name, name, groups),
        charts.fan_chart(name, name, [Fan(name, "#d55e00", bands)], fork_step=1, split_step=2),
        charts.effects_chart(name, effects, "shift"),
    ]
    for source in drawn:
        tree = ET.fromstring(source)  # well-formed: the name could not break out
        assert tree.findtext("title") == name
        assert not [e for e in tree.iter() if "onload" in e.attrib]
        assert [e for e in tree.iter() if e.get("class") == "mark"]
    sorted_rows = [t.text for t in ET.fromstring(drawn[3]).iter("text") if t.text in (name, "b")]
    assert sorted_rows == [name, "b"]  # largest effect first
