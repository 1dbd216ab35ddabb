"""`aegntix agents ...` and `aegntix memories` end to end on both backends, with the
persistent-agent examples."""

from __future__ import annotations

import json

from tests.cli.test_cli import aegntix, database_fingerprint
from tests.support import EXAMPLES

PERSISTENT = EXAMPLES / "persistent"


def _create_dana(db: str) -> None:
    aegntix("agents", "create", "--file", PERSISTENT / "dana.yaml", "--db", db)


def test_create_run_keep_and_return(db: str):
    _create_dana(db)
    listed = json.loads(aegntix("agents", "list", "--db", db, "--json"))
    assert [p["id"] for p in listed] == ["dana"] and listed[0]["traits"]["agreeableness"] == 0.6

    first = json.loads(
        aegntix("run", PERSISTENT / "1-van-sale.yaml", "--db", db, "--json").splitlines()[-1]
    )
    root = first["branch_id"]
    bullied = json.loads(
        aegntix("fork", root, "--at", "2", "--inject", "Final offer, decide now.", "--target",
                "buyer", "--strategy", "direct", "--label", "bullied", "--run", "20",
                "--db", db, "--json").splitlines()[-1]
    )  # fmt: skip
    assert bullied

    memories = json.loads(aegntix("memories", "bullied", "--agent", "buyer", "--limit", "0",
                                  "--db", db, "--json"))  # fmt: skip
    assert memories and all(m["agent_id"] == "buyer" for m in memories)
    assert any("Final offer, decide now." in m["text"] for m in memories)

    kept = json.loads(aegntix("agents", "commit", "bullied", "--db", db, "--json"))
    assert kept[0]["version"] == 1 and kept[0]["memories"] == len(memories)
    before = database_fingerprint(db)
    refused = aegntix("agents", "commit", root, "--db", db, ok=False)
    assert "already keeps branch" in refused and len(refused.strip().splitlines()) == 1
    assert database_fingerprint(db) == before

    renamed = json.loads(aegntix("agents", "update", "dana", "--name", "Dana W.", "--db", db,
                                 "--json"))  # fmt: skip
    assert renamed["name"] == "Dana W." and renamed["version"] == 1
    shown = json.loads(aegntix("agents", "show", "dana", "--db", db, "--json"))
    assert shown["version"] == 1 and shown["history"][0]["kept_branch"] == kept[0]["branch_id"]
    long_term = json.loads(aegntix("agents", "memories", "dana", "--limit", "0", "--db", db,
                                   "--json"))  # fmt: skip
    assert [m["text"] for m in long_term] == [m["text"] for m in memories]

    second = json.loads(
        aegntix("run", PERSISTENT / "2-second-van.yaml", "--db", db, "--json").splitlines()[-1]
    )
    events = [
        json.loads(line)
        for line in aegntix("events", second["branch_id"], "--db", db, "--json").splitlines()
    ]
    said = next(e for e in events if e["kind"] == "message" and e["agent_id"] == "dana"
                and e["step"] == 2)  # fmt: skip
    answer = json.loads(aegntix("memories", second["branch_id"], "--why", said["seq"],
                                "--db", db, "--json"))  # fmt: skip
    tiers = {r["memory"]["tier"] for r in answer["recalled"]}
    assert "long-term" in tiers  # she recalls the kept branch in the next scenario
    table = aegntix("memories", second["branch_id"], "--why", said["seq"], "--db", db)
    assert "recalled, best first" in table and "long-term" in table


def test_bad_input_is_one_line_and_changes_nothing(db: str):
    _create_dana(db)
    before = database_fingerprint(db)
    for args, words in (
        (("agents", "create", "dana", "--name", "Again"), "already exists"),
        (("agents", "create", "x", "--name", "X", "--trait", "openness=3"), "persona.openness"),
        (("agents", "create", "1x", "--name", "X"), "id"),
        (("agents", "create", "--name", "X"), "id: give it"),
        (("agents", "create", "--file", PERSISTENT / "1-van-sale.yaml"), "1-van-sale.yaml: "),
        (("agents", "create", "other", "--persona", PERSISTENT / "dana.yaml"), "persona."),
        (("agents", "show", "nobody"), "no persistent agent"),
        (("agents", "commit", "nobranch"), "no branch"),
        (("agents", "update", "dana"), "--name"),
        (("agents", "update", "nobody", "--name", "X"), "no persistent agent"),
    ):
        out = aegntix(*args, "--db", db, ok=False)
        assert words in out, out
        assert len(out.strip().splitlines()) == 1, out
    assert database_fingerprint(db) == before
    out = aegntix("memories", "nope", "--db", db, ok=False)
    assert "no branch" in out
