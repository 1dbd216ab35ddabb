"""Hostile and mistaken scenario input at the CLI: every problem on its own line (file:line:
field: reason), exit code 2, nothing written to the database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aegntix.cli import app
from tests.cli.test_cli import database_fingerprint
from tests.support import EXAMPLES

cli = CliRunner()

BASE = """\
name: tiny
termination: {max_steps: 3}
agents:
  - id: a
    name: Ann
    role: resident
    stance: 0.2
"""


def invoke(*args: object) -> tuple[int, str, str]:
    result = cli.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def db(module_db: str) -> str:
    """A database with one finished run, so "unchanged" means something; one per backend,
    shared by the module (every test leaves it as it found it)."""
    code, _, err = invoke("run", EXAMPLES / "negotiation.yaml", "--db", module_db, "--quiet")
    assert code == 0, err
    return module_db


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(db: str, path: Path) -> list[str]:
    """Validate and run ``path``: both exit 2 with the same lines; the database is unchanged."""
    before = database_fingerprint(db)
    code, out, err = invoke("validate", path)
    assert code == 2 and out == "", (code, out, err)
    lines = errors(err)
    assert lines and all(line.startswith(f"error: {path}") for line in lines), err
    code, _, run_err = invoke("run", path, "--db", db, "--quiet")
    assert code == 2 and errors(run_err) == lines
    assert database_fingerprint(db) == before
    return lines


def test_every_problem_is_listed_in_file_order(db: str, tmp_path: Path) -> None:
    text = BASE.replace("    stance: 0.2\n", "    goal: typo\n    stance: 2\n") + (
        "  - {id: a, name: Bob, role: x, actions: [nope]}\n"
        "world: {x: 1}\n"
        "dynamics: {x: 'x / 0', y: 'x + 1'}\n"
        "outcomes: {z: 'missing + 1'}\n"
    )
    path = write(tmp_path, text)
    lines = refused(db, path)
    assert lines == [
        f"error: {path}:7: agents.0.goal: unknown field (check the spelling; see `aegntix schema`)",
        f"error: {path}:8: agents.0.stance: Input should be less than or equal to 1 (got 2)",
        f"error: {path}:9: agents.1.id: agent ids must be unique; 'a' is also agents.0.id",
        f"error: {path}:11: dynamics.x: division by zero: the divisor is always 0 (got 'x / 0')",
    ]
    # Once the fields are right, the cross-field problems are all listed, each with its line.
    fixed = text.replace("    goal: typo\n    stance: 2\n", "").replace("x / 0", "x / 2")
    lines = refused(db, write(tmp_path, fixed))
    assert lines == [
        f"error: {path}:7: agents.1.id: agent ids must be unique; 'a' is also agents.0.id",
        f"error: {path}:7: agents.1.actions.0: unknown action 'nope' (actions: none declared)",
        f"error: {path}:9: dynamics.y: 'y' is not a world key",
        f"error: {path}:10: outcomes.z: unknown name(s) missing; expressions may read world "
        "keys and bimodality, max_stance, max_steps, mean_stance, min_stance, n_agents, "
        "opinion_clusters, polarization, stance_spread, step",
    ]


def test_json_output_lists_every_problem(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "colour: blue\nshape: round\n")
    code, out, err = invoke("validate", path, "--json")
    assert code == 2 and len(errors(err)) == 2
    body = json.loads(out)
    assert body["ok"] is False
    assert [(e["field"], e["line"]) for e in body["errors"]] == [("colour", 8), ("shape", 9)]
    assert all("unknown field" in e["reason"] for e in body["errors"])


def test_duplicate_keys_all_named_with_lines(db: str, tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "name: again\nseed: 1\nseed: 2\n")
    assert refused(db, path) == [
        f"error: {path}:8: name: duplicate key (first on line 1)",
        f"error: {path}:10: seed: duplicate key (first on line 9)",
    ]


def test_yaml_syntax_error_is_one_line_and_verbose_shows_context(db: str, tmp_path: Path):
    path = write(tmp_path, "name: x\nagents:\n  - id: a\n    name: [\n  b: c\n")
    lines = refused(db, path)
    assert len(lines) == 1 and "invalid YAML" in lines[0] and lines[0].startswith(f"error: {path}:")
    code, _, err = invoke("validate", path, "--verbose")
    assert code == 2 and "while parsing a flow sequence" in err and len(errors(err)) > 1
    code, out, _ = invoke("validate", path, "--json")
    assert "while parsing" in json.loads(out)["errors"][0]["context"]


def test_control_character_in_yaml_text_is_one_line(db: str, tmp_path: Path) -> None:
    path = tmp_path / "ctl.yaml"
    path.write_bytes(BASE.replace("Ann", "A\x1bnn").encode())
    (line,) = refused(db, path)
    assert "U+001B" in line and "\x1b" not in line


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_deep_nesting_is_refused_without_a_traceback(db: str, tmp_path: Path, suffix: str):
    deep = "[" * 20_000 + "]" * 20_000
    text = (
        '{"name": "x", "world": {"a": ' + deep + "}}"
        if suffix == ".json"
        else "name: x\nworld: {a: " + deep + "}\n"
    )
    path = write(tmp_path, text, "deep" + suffix)
    (line,) = refused(db, path)
    assert "nested deeper than 64 levels" in line
    if db.startswith("postgresql"):
        return  # validating a file opens no database: one real process per format is enough
    # A real process too: no RecursionError traceback on stderr.
    proc = subprocess.run(
        [sys.executable, "-m", "aegntix", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr


def test_aliases_cannot_nest_past_the_limit(db: str, tmp_path: Path) -> None:
    text = "name: x\n"
    for i in range(6):  # each level 20 deeper than the one it refers to
        inner = f"*l{i - 1}" if i else "1"
        text += f"l{i}: &l{i} " + "[" * 20 + inner + "]" * 20 + "\n"
    (line,) = refused(db, write(tmp_path, text))
    assert "nested deeper than 64 levels (with aliases expanded)" in line


@pytest.mark.parametrize(
    ("field_yaml", "field", "what"),
    [
        ('name: "Bad\\x1b[31mred"', "name", "U+001B"),
        ('description: "a\\0b"', "description", "U+0000"),
        ('topic: "\\u202Eevil"', "topic", "U+202E"),
        ('topic: "two\\nlines"', "topic", "a line break"),
        ('description: "\\x85next"', "description", "U+0085"),
    ],
)
def test_control_characters_are_refused(db: str, tmp_path: Path, field_yaml, field, what):
    text = BASE.replace("name: tiny\n", "") + field_yaml + "\n"
    if field != "name":
        text += "name: tiny\n"
    (line,) = refused(db, write(tmp_path, text))
    assert f": {field}: contains" in line and what in line
    assert not any(c in line for c in "\x1b\x00\u202e\x85")


def test_control_characters_in_agent_text(db: str, tmp_path: Path) -> None:
    text = BASE.replace(
        "    stance: 0.2\n", '    goals: ["win\\u2066"]\n    backstory: "ok\\x07"\n'
    )
    lines = refused(db, write(tmp_path, text))
    assert [line.split(": ")[2] for line in lines] == ["agents.0.goals.0", "agents.0.backstory"]


def test_multi_line_text_keeps_newlines_and_tabs(tmp_path: Path) -> None:
    text = BASE.replace("    stance: 0.2\n", "    backstory: |\n      line one\n      \tline two\n")
    code, _, err = invoke("validate", write(tmp_path, text))
    assert code == 0, err


@pytest.mark.parametrize(
    ("snippet", "field"),
    [
        ("world: {a: .nan}", "world.a"),
        ("world: {a: [1, -.inf]}", "world.a"),
        ("seed: .inf", "seed"),
    ],
)
def test_non_finite_numbers_are_refused(db: str, tmp_path: Path, snippet: str, field: str):
    (line,) = refused(db, write(tmp_path, BASE + snippet + "\n"))
    assert f": {field}: " in line and ("finite" in line or "integer" in line)


def test_non_finite_json_numbers_are_refused(db: str, tmp_path: Path) -> None:
    data = '{"name": "x", "termination": {"max_steps": 2}, "world": {"a": NaN},\n'
    data += '"agents": [{"id": "a", "name": "A", "role": "r", "stance": -Infinity}]}'
    lines = refused(db, write(tmp_path, data, "s.json"))
    assert [line.split(": ")[2] for line in lines] == ["world.a", "agents.0.stance"]


def test_numbers_load_as_numbers(location: str, tmp_path: Path) -> None:
    text = BASE + "world: {budget: 1e6, small: 1.5E-3, n: 1_000, time: 1:30}\n"
    text += "dynamics: {budget: 'budget * 2'}\noutcomes: {b: budget, n: n, time: time}\n"
    path = write(tmp_path, text)
    code, out, err = invoke("run", path, "--db", location, "--json", "--steps", "2")
    assert code == 0, err
    summary = [json.loads(x) for x in out.splitlines() if x.startswith("{")][-1]
    # 1e6 is a number (doubled each step), 1_000 too; 1:30 stays text (not base-60 90).
    assert summary["outcomes"] == {"b": 4_000_000.0, "n": 1000, "time": "1:30"}


@pytest.mark.parametrize(
    ("snippet", "reason"),
    [
        ('dynamics: {s: "s * 3"}\nworld: {s: ab}', None),
        ("outcomes: {r: \"'ab' * 3\"}", "always fails: text and lists cannot be repeated"),
        ('outcomes: {r: "n / (2 - 2)"}\nworld: {n: 1}', "division by zero"),
        ('outcomes: {r: "n % 0"}\nworld: {n: 1}', "division by zero"),
        ("outcomes: {r: \"'%0999999d' % n\"}\nworld: {n: 1}", "cannot be formatted"),
        ('outcomes: {r: "99999999999999999999 + n"}\nworld: {n: 1}', "out of range"),
        ('outcomes: {r: "1j + n"}\nworld: {n: 1}', "complex constants are not allowed"),
    ],
)
def test_expressions_that_must_fail_are_refused(db: str, tmp_path: Path, snippet, reason):
    text = BASE + snippet + "\n"
    if reason is None:  # text times a world number: refused at run time (see the runner test)
        assert invoke("validate", write(tmp_path, text))[0] == 0
        return
    (line,) = refused(db, write(tmp_path, text))
    assert reason in line


def test_warnings_are_shown_by_validate(tmp_path: Path) -> None:
    text = BASE + "world: {budget: '1e6', x: 0, n: 3}\n"
    text += "dynamics: {n: 'budget * 2 + n / x'}\n"
    path = write(tmp_path, text)
    code, out, err = invoke("validate", path)
    assert code == 0 and "2 warning(s)" in out
    assert errors(err) == [
        f"warning: {path}:9: dynamics.n: 'budget' is used as a number here but world.budget "
        "starts as the text '1e6'; the run fails when this is evaluated",
        f"warning: {path}:9: dynamics.n: divides by 'x', and world.x starts as 0; the run "
        "fails with a division by zero while it is 0",
    ]
    code, out, _ = invoke("validate", path, "--json")
    assert [w["field"] for w in json.loads(out)["warnings"]] == ["dynamics.n", "dynamics.n"]


def test_examples_have_no_warnings() -> None:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        code, out, err = invoke("validate", path, "--json")
        assert code == 0 and json.loads(out)["warnings"] == [], (path, err)


def test_inject_and_fork_text_is_checked(db: str) -> None:
    before = database_fingerprint(db)
    branch = before[0][0]
    for args in (
        ("inject", branch, "hello\x1b]0;owned\x07", "--db", db),
        ("fork", branch, "--at", "1", "--inject", "x\u202ey", "--db", db),
        ("fork", branch, "--at", "1", "--label", "a\nb", "--db", db),
        ("fork", branch, "--at", "1", "--inject", "ok", "--set", "stance=NaN", "--db", db),
        ("fork", branch, "--at", "1", "--inject", "ok", "--set", "x=" + "[" * 9000, "--db", db),
    ):
        code, _, err = invoke(*args)
        assert code == 2, (args, err)
        (line,) = errors(err)
        assert any(w in line for w in ("contains", "finite", "stance", "nested too deeply")), line
        assert not any(c in line for c in "\x1b\x07\u202e")
    assert database_fingerprint(db) == before


def test_profile_text_is_checked(db: str, tmp_path: Path) -> None:
    code, _, err = invoke("agents", "create", "mara", "--name", "Ma\x1bra", "--db", db)
    assert code != 0 and "U+001B" in err and "\x1b" not in err
    bad = write(tmp_path, "id: mara\nname: Mara\npersona: {openness: [\n", "p.yaml")
    code, _, err = invoke("agents", "create", "--file", bad, "--db", db)
    assert code != 0 and len(errors(err)) == 1 and "invalid YAML" in err


@pytest.mark.parametrize(
    ("world", "dynamics", "reason"),
    [
        ("{s: ab, n: 2}", "{s: 's * n'}", "dynamics.s: 's * n': text and lists cannot be repeated"),
        ("{s: ab}", "{s: 's + s'}", "dynamics.s: 's + s': text longer than 10,000 characters"),
        ("{n: 3}", "{n: 'n * n'}", "dynamics.n: 'n * n': integer result out of range"),
        ("{n: 1.0e300}", "{n: 'n * n'}", "dynamics.n: 'n * n': result is not a finite number"),
        ("{x: 0, y: 1}", "{y: 'y / x'}", "dynamics.y: 'y / x': division by zero"),
        ("{x: null, y: 1}", "{y: 'y - x'}", "dynamics.y: 'y - x': cannot subtract a number and"),
    ],
)
def test_run_time_expression_failures_are_one_line(
    location: str, tmp_path: Path, world: str, dynamics: str, reason: str
) -> None:
    text = BASE.replace("max_steps: 3", "max_steps: 40") + f"world: {world}\ndynamics: {dynamics}\n"
    code, _, err = invoke("run", write(tmp_path, text), "--db", location, "--quiet")
    assert code == 2, err
    (line,) = errors(err)
    # the run names the branch and the step it failed at, then the expression's own reason
    assert line.startswith("error: branch ") and " failed at step " in line, line
    assert line.split(": ", 2)[2].startswith(reason) or f": {reason}" in line, line
