"""`aegntix report` and the short `aegntix rollouts BRANCH --at ...` form, as a user runs them
on both backends: the HTML is parsed and checked against `rollouts show --json`."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aegntix.analysis.rollouts import create_set
from aegntix.cli import app
from aegntix.timeline import open_store
from tests.support import EXAMPLES

cli = CliRunner()
HOSTILE = 'The river flooded the car park. <script>alert(1)</script> & "more"'


def aegntix(*args: object, code: int = 0) -> str:
    result = cli.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    return result.output


def json_lines(output: str) -> list[Any]:
    return [json.loads(line) for line in output.splitlines() if line.startswith(("{", "["))]


@dataclass
class Study:
    db: str
    parent: str
    made: dict[str, Any]
    shown: dict[str, Any]  # `rollouts show SET --json`: the set, its members and its stats


@pytest.fixture(scope="module")
def study(module_db: str) -> Study:
    """The town hall run 3 steps, then the short form: 6 futures from step 2 with an
    injection (so also a paired control set)."""
    db = module_db
    run = aegntix("run", EXAMPLES / "town-hall.yaml", "--steps", 3, "--db", db, "--json")
    parent = str(json_lines(run)[0]["branch_id"])
    out = json_lines(
        aegntix(
            "rollouts", parent, "--at", 2, "--n", 6, "--inject", HOSTILE, "--stance", 0.9,
            "--db", db, "--json",
        )
    )  # fmt: skip
    made = out[-1]
    shown = json_lines(aegntix("rollouts", "show", made["id"], "--db", db, "--json"))[0]
    return Study(db, parent, made, shown)


class ReportParser(HTMLParser):
    """What a report holds: tags seen, sentences, SVG sources, and every number cell as
    (outcome section, table class, row header) -> data-value."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.sentences: list[str] = []
        self.values: dict[tuple[str, str, str], str] = {}
        self.member_rows: list[list[str | None]] = []
        self._section = ""
        self._table = ""
        self._in: str | None = None
        self._text: list[str] = []
        self._row: list[str | None] | None = None
        self._header = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)
        a = dict(attrs)
        if tag == "section":
            self._section = a.get("data-outcome") or ""
        elif tag == "table":
            self._table = a.get("class") or ""
        elif tag == "tr":
            self._row = []
        elif tag in ("p", "th") and (a.get("class") == "sentence" or tag == "th"):
            self._in, self._text = tag, []
        elif tag == "td" and self._row is not None:
            self._row.append(a.get("data-value"))
            if a.get("data-value") is not None:
                key = (self._section, self._table, self._header)
                self.values.setdefault(key, a["data-value"] or "")  # the first set's column

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            text = "".join(self._text)
            if tag == "p":
                self.sentences.append(text)
            else:
                self._header = text
            self._in = None
        elif tag == "tr" and self._row is not None:
            if self._table == "members" and self._row:
                self.member_rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._in:
            self._text.append(data)


def parsed(path: Path) -> tuple[str, ReportParser]:
    html = path.read_text(encoding="utf-8")
    parser = ReportParser()
    parser.feed(html)
    return html, parser


def test_short_form_creates_a_paired_set_and_subcommands_still_work(study: Study) -> None:
    assert study.made["type"] == "set" and study.made["status"] == "done"
    assert study.made["n"] == 6 and study.made["fork_step"] == 2
    assert study.made["parent_id"] == study.parent and study.made["control_id"]
    assert study.made["injection"]["content"] == HOSTILE
    listed = json_lines(aegntix("rollouts", "list", "--db", study.db, "--json"))[0]
    assert {s["id"] for s in listed} >= {study.made["id"], study.made["control_id"]}
    assert "with the intervention vs" in aegntix(
        "rollouts", "show", study.made["id"][:6], "--db", study.db
    )
    continued = json_lines(
        aegntix("rollouts", "continue", study.made["id"], "--db", study.db, "--json")
    )[-1]
    assert continued["status"] == "done" and continued["progress"] == {"done": 6, "total": 6}
    helped = aegntix("rollouts", "--help")
    for name in ("create", "list", "show", "continue", "extend"):
        assert name in helped
    assert "aegntix rollouts BRANCH --at STEP --n N" in helped
    # a branch that does not exist is the create command's own one-line error
    result = cli.invoke(app, ["rollouts", "feedbeef", "--at", "1", "--n", "2", "--db", study.db])
    assert result.exit_code == 3 and "no branch 'feedbeef'" in result.output


def test_show_draws_a_histogram_per_outcome(study: Study) -> None:
    shown = aegntix("rollouts", "show", study.made["id"], "--db", study.db)
    for name in ("approved", "consensus", "mean_stance", "spread"):
        assert f"{name} · this set (n = 6):" in shown
        assert f"{name} · vs {study.made['control_id']} (n = 6):" in shown
    assert "█" in shown


def test_report_says_what_the_stats_say(study: Study, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    written = json_lines(
        aegntix("report", study.made["id"][:6], "--out", out, "--db", study.db, "--json")
    )[0]
    assert written == {"path": str(out.resolve()), "bytes": out.stat().st_size}
    html, page = parsed(out)
    stats = study.shown["stats"]

    effects = {n: e["effect"] for n, e in stats["outcomes"].items() if e.get("effect")}
    assert set(effects) == {"approved", "consensus", "mean_stance", "spread"}
    assert page.sentences == [e["sentence"] for e in effects.values()]
    for effect in effects.values():  # in its section, and in "What it found" up front
        assert html.count(escape(effect["sentence"])) == 2
    for name, effect in effects.items():
        for header, key in (("difference", "difference"), ("95% CI low", "ci_low"),
                            ("95% CI high", "ci_high"), ("effect size (h)", "effect_size"),
                            ("effect size (d_z)", "effect_size")):  # fmt: skip
            if (name, "effect", header) in page.values:
                assert float(page.values[(name, "effect", header)]) == effect[key], (name, header)
        p_header = "p-value (exact)" if effect["p_exact"] else "p-value"
        assert float(page.values[(name, "effect", p_header)]) == effect["p_value"]
        summary = stats["outcomes"][name]["summary"]
        mean_header = "rate" if summary["kind"] == "yes/no" else "mean"
        assert float(page.values[(name, "summary", mean_header)]) == summary["mean"]
    for agent, effect in stats["outcomes"]["stance"]["agents"].items():
        assert effect["sentence"] in html.replace("<br>", "\n"), agent

    members = study.shown["members"]
    assert [n for n, e in stats["outcomes"].items() if e["kind"] != "per agent"] == [
        "approved", "consensus", "mean_stance", "spread"
    ]  # fmt: skip
    mine = page.member_rows[: len(members)]
    for row, member in zip(mine, members, strict=True):
        assert row[0] == repr(member["index"])
        assert row[4:] == [
            json.dumps(member["outcomes"][k]) if isinstance(member["outcomes"][k], bool)
            else repr(member["outcomes"][k])
            for k in ("approved", "consensus", "mean_stance", "spread")
        ]  # fmt: skip

    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert len(svgs) == 4 + 2 + 1  # a chart per outcome, a fan per number, per-agent effects
    for source in svgs:
        tree = ET.fromstring(source)
        assert tree.find("title") is not None and tree.findtext("title")
        marks = [e for e in tree.iter() if e.get("class") == "mark"]
        assert marks, tree.findtext("title")
        assert tree.find(".//g[@class='axis']") is not None
    assert "split · step" in html and "fork · step 2" in html

    assert "http://" not in html and "https://" not in html and "src=" not in html
    assert "script" not in page.tags and not any(k.startswith("on") for k, _ in page.attrs)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;more&quot;" in html
    assert "<script>" not in html


def test_report_against_another_set_is_unpaired(study: Study, tmp_path: Path) -> None:
    out = tmp_path / "vs.html"
    aegntix("report", study.made["control_id"], "--vs", study.made["id"], "--out", out,
            "--db", study.db)  # fmt: skip
    html, page = parsed(out)
    stats = json_lines(
        aegntix("rollouts", "show", study.made["control_id"], "--vs", study.made["id"],
                "--db", study.db, "--json")
    )[0]["stats"]  # fmt: skip
    assert stats["comparison"] == "unpaired"
    assert page.sentences == [
        e["effect"]["sentence"] for e in stats["outcomes"].values() if e.get("effect")
    ]
    assert "No injection" in html and "unpaired" in html


def test_bad_requests_are_one_line_and_write_nothing(study: Study, tmp_path: Path) -> None:
    out = tmp_path / "x.html"
    for args, code, needle in (
        (("nope1234",), 3, "no rollout set 'nope1234'"),
        ((study.made["id"], "--tenant", "acme"), 3, "no rollout set"),
        ((study.made["id"], "--vs", "nope1234"), 3, "no rollout set 'nope1234'"),
    ):
        result = cli.invoke(app, ["report", *args, "--out", str(out), "--db", study.db])
        assert result.exit_code == code and needle in result.output, result.output
        assert result.output.count("error:") == 1
    assert not out.exists()
    for target, needle in ((tmp_path / "no" / "such" / "r.html", "cannot write"),
                           (tmp_path, "is a folder")):  # fmt: skip
        result = cli.invoke(
            app, ["report", study.made["id"], "--out", str(target), "--db", study.db]
        )
        assert result.exit_code == 2 and needle in result.output, result.output
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_a_set_with_no_finished_member_is_refused(study: Study, tmp_path: Path) -> None:
    store = open_store(study.db)
    try:
        pending = create_set(store, study.parent, 1, 2, None)  # members forked, none run
    finally:
        store.close()
    out = tmp_path / "p.html"
    result = cli.invoke(app, ["report", pending.id, "--out", str(out), "--db", study.db])
    assert result.exit_code == 2, result.output
    assert "no member has finished yet" in result.output
    assert f"aegntix rollouts continue {pending.id}" in result.output
    assert not out.exists()


def test_a_partly_finished_set_is_reported_over_its_finished_members(
    study: Study, tmp_path: Path
) -> None:
    store = open_store(study.db)
    try:
        partial = create_set(store, study.parent, 1, 3, None, seed_base=7)
    finally:
        store.close()
    members = json_lines(aegntix("rollouts", "show", partial.id, "--db", study.db, "--json"))
    first = members[0]["members"][0]["branch_id"]
    aegntix("continue", first, "--db", study.db, "--quiet")  # a member is an ordinary branch
    out = tmp_path / "partial.html"
    aegntix("report", partial.id, "--out", out, "--db", study.db)
    html, page = parsed(out)
    assert "1 of 3 futures have finished" in html
    assert f"aegntix rollouts continue {partial.id}" in html
    assert page.values[("approved", "summary", "n")] == "1"
    rows = page.member_rows
    assert [r[0] for r in rows] == ["0", "1", "2"]
    assert None not in rows[0][4:] and rows[1][4:] == rows[2][4:] == [None] * 4


def test_a_scenario_named_like_markup_is_shown_not_run(tmp_path: Path, db: str) -> None:
    source = (EXAMPLES / "town-hall.yaml").read_text(encoding="utf-8")
    name = "<script>alert(2)</script><img src=x onerror=alert(3)>"
    hostile = source.replace(
        "name: Riverside flood-barrier town hall", f"name: {json.dumps(name)}", 1
    )
    assert hostile != source
    scenario = tmp_path / "hostile.yaml"
    scenario.write_text(hostile, encoding="utf-8")
    parent = json_lines(aegntix("run", scenario, "--steps", 2, "--db", db, "--json"))[0]
    made = json_lines(
        aegntix("rollouts", parent["branch_id"], "--at", 1, "--n", 2, "--db", db, "--json")
    )[-1]
    out = tmp_path / "h.html"
    aegntix("report", made["id"], "--out", out, "--db", db)
    html, page = parsed(out)
    assert escape(name) in html
    assert "script" not in page.tags and "img" not in page.tags
    assert not any(k == "src" or k.startswith("on") for k, _ in page.attrs)
