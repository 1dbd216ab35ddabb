"""`aegntix rollouts ...` end to end on both backends (and `kill -9` mid-set)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from aegntix.cli import app
from aegntix.timeline.leases import LEASE_ENV
from tests.cli.conftest import Databases
from tests.support import EXAMPLES

cli = CliRunner()

#: Seconds the killed runner's leases last (``AEGNTIX_LEASE_SECONDS`` of its process).
KILLED_RUNNER_TTL = 3.0


def aegntix(*args: object, code: int = 0) -> str:
    result = cli.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    return result.output


def json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith(("{", "["))]


def root(db: str) -> str:
    out = json_lines(
        aegntix("run", EXAMPLES / "town-hall.yaml", "--steps", 3, "--db", db, "--json")
    )
    return str(out[0]["branch_id"])


def heads(db: str, set_id: str) -> list[tuple[int, str, str]]:
    shown = json_lines(aegntix("rollouts", "show", set_id, "--db", db, "--json"))[0]
    return [(m["index"], m["head_hash"], m["status"]) for m in shown["members"]]


def test_create_show_list_extend(db: str) -> None:
    parent = root(db)
    out = json_lines(
        aegntix(
            "rollouts", "create", parent[:6], "--at", 2, "--n", 3,
            "--inject", "The river flooded the car park.", "--stance", 0.9,
            "--db", db, "--json",
        )
    )  # fmt: skip
    made = out[-1]
    assert made["type"] == "set" and made["status"] == "done"
    assert made["progress"] == {"done": 3, "total": 3} and len(made["seeds"]) == 3
    progress = [o for o in out if o["type"] == "progress"]
    assert {(p["set_id"], p["done"]) for p in progress} >= {
        (made["id"], 3),
        (made["control_id"], 3),
    }
    listed = json_lines(aegntix("rollouts", "list", "--db", db, "--json"))[0]
    assert {s["id"] for s in listed} == {made["id"], made["control_id"]}
    control = next(s for s in listed if s["id"] == made["control_id"])
    assert control["injection"] is None and control["seeds"] == made["seeds"]

    shown = aegntix("rollouts", "show", made["id"][:6], "--db", db)
    assert "approved in " in shown and "with the intervention vs" in shown and made["id"] in shown
    members = json_lines(aegntix("rollouts", "show", made["id"], "--db", db, "--json"))[0]
    assert all(m["branch_id"] in shown for m in members["members"])  # a small set lists them

    first = heads(db, made["id"])
    extended = json_lines(
        aegntix("rollouts", "extend", made["id"], "--to", 14, "--db", db, "--json")
    )[-1]
    assert extended["n"] == 14 and extended["progress"] == {"done": 14, "total": 14}
    assert heads(db, made["id"])[:3] == first
    assert len(heads(db, made["control_id"])) == 14
    # a larger set leads with what it found; its futures are listed on request
    shown = aegntix("rollouts", "show", made["id"], "--db", db)
    branches = [
        m["branch_id"]
        for m in json_lines(aegntix("rollouts", "show", made["id"], "--db", db, "--json"))[0][
            "members"
        ]
    ]
    assert "approved in " in shown and "--members" in shown
    assert not any(b in shown for b in branches)
    listed = aegntix("rollouts", "show", made["id"], "--members", "--db", db)
    assert all(b in listed for b in branches)


def test_bad_input_is_one_line_and_writes_nothing(db: str) -> None:
    parent = root(db)
    for args, needle in (
        (("--n", 0), "--n: must be from 1 to 1000"),
        (("--n", 2, "--target", "mara"), "need --inject"),
        (("--n", 2, "--inject", "hi", "--target", "nobody"), "targets: unknown agent"),
    ):
        result = cli.invoke(
            app, ["rollouts", "create", parent, "--at", "1", *map(str, args), "--db", str(db)]
        )
        assert result.exit_code != 0 and needle in result.output, result.output
        assert result.output.count("error:") == 1
    assert json_lines(aegntix("rollouts", "list", "--db", db, "--json"))[0] == []
    out = aegntix("rollouts", "show", "nope1234", "--db", db, code=3)
    assert "no rollout set 'nope1234'" in out


@pytest.mark.parametrize("processes", [1, 2])
def test_kill_9_mid_set_then_continue_matches_an_uninterrupted_set(
    databases: Databases, processes: int
) -> None:
    # two workers each run their members in lockstep (one step in flight): more members, so
    # the kill lands while some are still running
    n = 6 if processes == 1 else 24
    whole = databases.new("whole.db")
    made = json_lines(
        aegntix("rollouts", "create", root(whole), "--at", 1, "--n", n, "--db", whole,
                "--processes", 1, "--json")
    )[-1]  # fmt: skip
    expected = heads(whole, made["id"])

    db = databases.new("cut.db")
    parent = root(db)
    # The killed runner's leases are waited out below: a short TTL (renewed every second
    # while it runs, with nobody else to take them) keeps that wait to a few seconds.
    proc = subprocess.Popen(
        [sys.executable, "-m", "aegntix", "rollouts", "create", parent, "--at", "1", "--n", str(n),
         "--concurrency", "1", "--processes", str(processes), "--db", db, "--json"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", LEASE_ENV: str(KILLED_RUNNER_TTL)},
    )  # fmt: skip
    assert proc.stdout is not None
    set_id = ""
    for line in proc.stdout:
        item = json.loads(line)
        set_id = item["set_id"]
        if item["done"] >= 2:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    cut = heads(db, set_id)
    time.sleep(1)  # worker processes die with their parent: nothing is written after it
    assert [h for _, h, _ in heads(db, set_id)] == [h for _, h, _ in cut]
    finished = {i: h for i, h, s in cut if s == "done"}
    assert 2 <= len(finished) < n, cut

    out = json_lines(aegntix("rollouts", "continue", set_id[:6], "--db", db, "--json"))
    assert out[-1]["status"] == "done"
    # the killed runner's leases are never taken for a live runner's: waited out, taken over
    held = [o for o in out if o.get("type") == "held"]
    assert all(h["elsewhere"] == 0 for h in held), held
    assert not held or held[-1]["waiting"] == 0, held
    # only the unfinished ones ran: the first progress line counts the finished ones
    assert out[0] == {"type": "progress", "set_id": set_id, "done": len(finished), "total": n}
    after = heads(db, set_id)
    assert all(after[i][1] == h for i, h in finished.items())
    assert [(i, h) for i, h, _ in after] == [(i, h) for i, h, _ in expected]
