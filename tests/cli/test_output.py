"""What the CLI prints for people: seq numbers in transcripts, and output piped into another
program or a file that is never hard-wrapped (ids and suggested commands stay whole)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.cli.test_cli import aegntix, json_lines
from tests.support import EXAMPLES

LONG = (
    "Your landlord just called: the lease on the second shop starts Friday and you must have "
    "a van by then, so the deadline is urgent and a competing offer will not wait for you."
)
LINE = re.compile(r"^#(\d+)\s+step (\d+)\s+\S")


def piped(*args: str | Path) -> str:
    """The CLI as a subprocess whose stdout is a pipe (not a terminal), COLUMNS unset."""
    env = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "LINES"}}
    done = subprocess.run(
        [sys.executable, "-m", "aegntix", *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_events_transcript_shows_seq_and_step(db: str) -> None:
    root = json_lines(aegntix("run", EXAMPLES / "negotiation.yaml", "--db", db, "--json"))[0]
    stored = {
        e["seq"]: e for e in json_lines(aegntix("events", root["branch_id"], "--db", db, "--json"))
    }
    lines = [ln for ln in aegntix("events", root["branch_id"], "--db", db).splitlines() if ln]
    shown = [LINE.match(ln) for ln in lines]
    assert all(shown), lines
    seqs = [int(m.group(1)) for m in shown if m]
    assert seqs == sorted(seqs) and len(seqs) >= 10
    for m, line in zip(shown, lines, strict=True):
        assert m is not None
        event = stored[int(m.group(1))]  # the seq printed is the event's seq...
        assert int(m.group(2)) == event["step"]  # ...and its step
        if event["kind"] == "message":
            assert event["payload"]["text"] in line

    # a seq read off the transcript is what --from takes: it starts there
    third = seqs[2]
    again = aegntix("events", root["branch_id"], "--from", third, "--db", db).splitlines()
    assert again[0].startswith(f"#{third} ")


def test_piped_output_is_not_wrapped(tmp_path: Path) -> None:
    # SQLite only: line wrapping is the renderer's, whatever the backend, and this test's five
    # processes are the CLI suite's slowest; the piped demo below prints a URL on PostgreSQL
    db = tmp_path / "pipe.db"
    out = piped("run", EXAMPLES / "negotiation.yaml", "--db", db)
    root = json.loads(piped("branches", "--db", db, "--json"))[0]["id"]
    # the suggested command is whole on one line, as are the transcript's lines
    assert f"Fork it: aegntix fork {root} --at STEP --inject TEXT" in out.splitlines()[-1]
    assert all(LINE.match(ln) for ln in out.splitlines() if ln.startswith("#"))

    fork = piped(
        "fork", root, "--at", "3", "--inject", LONG, "--target", "buyer", "--run", "20", "--db", db
    )
    child = re.search(r"^forked (\w+) ", fork, re.M)
    assert child, fork
    child_id = child.group(1)
    assert f"aegntix fork {child_id} --at STEP --inject TEXT" in fork
    transcript = piped("events", child_id, "--db", db).splitlines()
    assert [ln for ln in transcript if LONG in ln], "the injection's text was split"

    tree = piped("branches", "--db", db)
    assert any(root in ln and "main" in ln and "done" in ln for ln in tree.splitlines())
    assert any(child_id in ln and "fork@3" in ln for ln in tree.splitlines())
    compared = piped("compare", root, child_id, "--db", db)
    assert any(f"{root} (main)" in ln and child_id in ln for ln in compared.splitlines())
    assert max(len(ln) for ln in compared.splitlines()) < 400  # boxes fit their content


def test_json_events_carry_seq_and_step(db: str) -> None:
    run = json_lines(aegntix("run", EXAMPLES / "negotiation.yaml", "--db", db, "--json"))
    live = [(e["seq"], e["step"], e["kind"]) for e in run if e["type"] == "event"]
    listed = json_lines(aegntix("events", run[0]["branch_id"], "--db", db, "--json"))
    assert live and [(e["seq"], e["step"], e["kind"]) for e in listed][-len(live) :] == live


def test_piped_demo_keeps_its_suggestions_whole(db: str) -> None:
    out = piped("demo", EXAMPLES / "negotiation.yaml", "--db", db).splitlines()
    (explore,) = [ln for ln in out if ln.startswith("Explore:")]
    ids = re.findall(r"aegntix (?:events|state) (\w+) ", explore)
    assert len(ids) == 2 and f"--db {db}" in explore
    assert max(len(ln) for ln in out) < 400  # rules and boxes stay their size
