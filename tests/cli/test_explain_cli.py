"""`aegntix fork --explain` and the newcomer's plain-language injections, end to end."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from aegntix.cli import app
from tests.cli.test_cli import database_fingerprint
from tests.support import EXAMPLES

cli = CliRunner()
FLOOD = (
    "Breaking news: the river rose two metres overnight and flooded the car park; "
    "the insurer says the barrier would have prevented it"
)


def aegntix(*args: object) -> str:
    result = cli.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


@pytest.fixture
def town(db: str) -> tuple[str, str]:
    out = json_lines(aegntix("run", EXAMPLES / "town-hall.yaml", "--db", db, "--json"))
    return db, out[0]["branch_id"]


def test_the_flood_news_now_moves_the_town_hall_toward_the_barrier(town: tuple[str, str]):
    db, root = town
    fork = json_lines(aegntix("fork", root, "--at", "4", "--inject", FLOOD, "--db", db, "--json"))[
        0
    ]
    aegntix("continue", fork["id"], "--db", db, "--quiet")
    result = json_lines(aegntix("compare", root, fork["id"], "--db", db, "--json"))[0]
    assert result["divergence_step"] == 5
    assert all(d > 0 for _, d in result["divergence_series"])
    assert result["outcome_deltas"]["mean_stance"] > 0.1
    moved = result["outcome_deltas"]["stance"]
    assert all(delta > 0 for delta in moved.values()), moved


def test_explain_prints_each_agents_reading_and_writes_nothing(town: tuple[str, str]):
    db, root = town
    before = database_fingerprint(db)
    text = aegntix("fork", root, "--at", "4", "--inject", FLOOD, "--explain", "--db", db)
    assert "how the rules brain reads it" in text and "George Bell" in text
    assert "closest" in text and "verdict:" in text
    found = json_lines(
        aegntix("fork", root, "--at", "4", "--inject", FLOOD, "--explain", "--json", "--db", db)
    )[0]
    assert found["branch_id"] == root and found["arguments_declared"] is True
    assert len(found["agents"]) == 9
    for agent in found["agents"]:
        assert agent["direction"] > 0 and agent["effective"] and agent["effect"] == "leans for"
        assert 0 <= agent["relevance"] <= 1 and 0 <= agent["strength"] <= 1
    assert database_fingerprint(db) == before


def test_explain_says_so_when_the_rules_brain_reads_nothing(town: tuple[str, str]):
    db, root = town
    found = json_lines(
        aegntix(
            "fork", root, "--at", "2", "--explain", "--json", "--db", db,
            "--inject", "The local football team won the cup final on Saturday.",
        )
    )[0]  # fmt: skip
    assert not any(a["effective"] for a in found["agents"])
    assert "reads no direction in this text for anyone" in found["verdict"]
    assert "--stance" in found["verdict"]
    direct = json_lines(
        aegntix(
            "fork", root, "--at", "2", "--explain", "--json", "--db", db, "-t", "shop",
            "--inject", "The local football team won the cup final on Saturday.",
            "--stance", "0.9",
        )
    )[0]  # fmt: skip
    assert [a["agent_id"] for a in direct["agents"]] == ["shop"]
    assert direct["agents"][0]["source"] == "stance" and direct["agents"][0]["effective"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--explain"], "need --inject TEXT"),
        (["--explain", "--inject", "hi", "--target", "ghost"], "ghost"),
        (["--explain", "--inject", "   "], "content"),
    ],
)
def test_explain_bad_input_is_one_line(town: tuple[str, str], args: list[str], message: str):
    db, root = town
    before = database_fingerprint(db)
    result = cli.invoke(app, ["fork", root, "--at", "2", *args, "--db", db])
    assert result.exit_code not in (0, None)
    assert message in result.output and result.output.count("error:") == 1
    assert database_fingerprint(db) == before
    late = cli.invoke(app, ["fork", root, "--at", "99", "--explain", "--inject", "x", "--db", db])
    assert late.exit_code != 0 and "step 99" in late.output
