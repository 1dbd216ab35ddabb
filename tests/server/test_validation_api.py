"""Hostile and mistaken input over real HTTP: 422 problem documents listing every problem
(field, reason, line), never a 5xx, nothing recorded. Ends with a property test: arbitrary
JSON / Unicode junk posted to the scenario endpoints never yields a 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.api_support import assert_problem, create, run_to_end
from tests.server.conftest import LiveServer

YAML = {"content-type": "application/yaml"}
JSON = {"content-type": "application/json"}
BASE = """\
name: tiny
termination: {max_steps: 3}
agents:
  - id: a
    name: Ann
    role: resident
"""
DEEP = "[" * 20_000 + "]" * 20_000


@pytest.fixture(scope="module")
def client(live_server: LiveServer) -> httpx.Client:
    return live_server.client(live_server.make_key("validation", "owner"))


@pytest.fixture(scope="module")
def branch(client: httpx.Client) -> str:
    root = create(client)["root_branch"]
    run_to_end(client, root["id"], steps=2)
    return str(root["id"])


def _count(client: httpx.Client) -> int:
    return len(client.get("/v1/scenarios").json())


def refused(client: httpx.Client, status: int = 422, **kw: Any) -> dict[str, Any]:
    """POST a scenario that must be refused; nothing is recorded."""
    before = _count(client)
    body = assert_problem(client.post("/v1/scenarios", **kw), status)
    assert _count(client) == before
    return body


def test_every_problem_is_listed_with_field_and_line(client: httpx.Client) -> None:
    text = BASE.replace(
        "    role: resident\n", "    role: resident\n    goal: typo\n    stance: 3\n"
    )
    body = refused(client, content=text + "colour: blue\n", headers=YAML)
    assert [(e["field"], e["line"]) for e in body["errors"]] == [
        ("agents.0.goal", 7),
        ("agents.0.stance", 8),
        ("colour", 9),
    ]
    assert body["detail"].startswith("<body>: 3 problems: line 7: agents.0.goal: unknown field")
    r = client.post("/v1/scenarios/validate", content=text, headers=YAML)
    assert len(assert_problem(r, 422)["errors"]) == 2


def test_duplicate_ids_and_expression_errors_name_field_and_line(client: httpx.Client) -> None:
    text = BASE + "  - {id: a, name: Bob, role: x}\nworld: {x: 1}\noutcomes: {r: 'x / 0', s: 'y'}\n"
    body = refused(client, content=text, headers=YAML)
    # Field problems and repeated ids come first; the checks across fields once they pass.
    assert [(e["field"], e["line"]) for e in body["errors"]] == [
        ("agents.1.id", 7),
        ("outcomes.r", 9),
    ]
    assert "the divisor is always 0" in body["errors"][1]["reason"]
    body = refused(client, content=text.replace("x / 0", "x / 2"), headers=YAML)
    assert [(e["field"], e["line"]) for e in body["errors"]] == [
        ("agents.1.id", 7),
        ("outcomes.s", 9),
    ]


def test_upload_lists_every_problem(client: httpx.Client) -> None:
    files = {"file": ("typo.yaml", BASE + "colour: blue\nshape: round\n", "application/yaml")}
    body = refused(client, files=files)
    assert [e["field"] for e in body["errors"]] == ["colour", "shape"]
    assert body["detail"].startswith("typo.yaml: 2 problems")


@pytest.mark.parametrize("kind", ["yaml", "json", "upload"])
def test_deep_scenarios_are_refused(client: httpx.Client, kind: str) -> None:
    if kind == "yaml":
        body = refused(client, content=f"name: x\nworld: {{a: {DEEP}}}\n", headers=YAML)
    elif kind == "json":
        body = refused(client, content='{"name": "x", "world": {"a": ' + DEEP + "}}", headers=JSON)
    else:
        files = {"file": ("deep.json", '{"world": ' + DEEP + "}", "application/json")}
        body = refused(client, files=files)
    assert "nested deeper than 64 levels" in body["detail"]


def test_deep_json_bodies_are_refused_everywhere(client: httpx.Client, branch: str) -> None:
    for path in (f"/v1/branches/{branch}/inject", f"/v1/branches/{branch}/fork", "/v1/agents"):
        r = client.post(path, content='{"content": ' + DEEP + "}", headers=JSON)
        body = assert_problem(r, 422)
        assert body["errors"] == [{"field": "body", "reason": "nested deeper than 64 levels"}]


def test_non_finite_numbers_are_refused(client: httpx.Client, branch: str) -> None:
    text = '{"name": "x", "termination": {"max_steps": 2}, "world": {"a": NaN},'
    text += '"agents": [{"id": "a", "name": "A", "role": "r", "stance": Infinity}]}'
    body = refused(client, content=text, headers=JSON)
    assert [e["field"] for e in body["errors"]] == ["world.a", "agents.0.stance"]
    before = client.get(f"/v1/branches/{branch}").json()["head_seq"]
    for raw in (
        '{"content": "x", "fields": {"stance": NaN}}',
        '{"content": "x", "urgency": Infinity}',
        '{"content": "x", "world": {"list_price": -Infinity}}',
    ):
        r = client.post(f"/v1/branches/{branch}/inject", content=raw, headers=JSON)
        assert_problem(r, 422)
    assert client.get(f"/v1/branches/{branch}").json()["head_seq"] == before


@pytest.mark.parametrize("bad", ["\x1b[2J", "\u202e", "\x00", "\x9b", "\ud800"])
def test_control_characters_are_refused_where_text_enters(
    client: httpx.Client, branch: str, bad: str
) -> None:
    before = client.get(f"/v1/branches/{branch}").json()["head_seq"]
    branches = len(client.get("/v1/branches").json())

    def post(path: str, body: dict[str, Any], field: str) -> None:
        raw = json.dumps(body)  # \ud800 goes as the JSON escape, as a hostile client would
        r = client.post(path, content=raw, headers=JSON)
        problem = assert_problem(r, 422)
        assert any(e["field"] == field for e in problem["errors"]), problem
        assert bad not in r.text  # never echoed raw

    post(f"/v1/branches/{branch}/inject", {"content": f"hi{bad}"}, "content")
    post(f"/v1/branches/{branch}/fork", {"at_step": 1, "label": f"l{bad}"}, "label")
    post(
        f"/v1/branches/{branch}/fork",
        {"at_step": 1, "injection": {"content": "x", "fields": {"note": bad}}},
        "injection.fields.note",
    )
    post("/v1/agents", {"id": "eve", "name": f"E{bad}ve"}, "name")
    post("/v1/agents", {"id": "eve", "name": "Eve", "description": bad}, "description")
    assert client.get("/v1/agents/eve").status_code == 404
    text = json.dumps(
        {
            "name": "x",
            "termination": {"max_steps": 2},
            "agents": [{"id": "a", "name": "A", "role": "r", "backstory": bad}],
        }
    )
    body = refused(client, content=text, headers=JSON)
    assert body["errors"][0]["field"] == "agents.0.backstory"
    assert client.get(f"/v1/branches/{branch}").json()["head_seq"] == before
    assert len(client.get("/v1/branches").json()) == branches


def test_warnings_come_back_with_the_created_scenario(client: httpx.Client) -> None:
    text = BASE + "world: {budget: '1e6', n: 1e6}\noutcomes: {twice: 'budget * 2', n: n}\n"
    r = client.post("/v1/scenarios", content=text, headers=YAML)
    assert r.status_code == 201, r.text
    (warning,) = r.json()["warnings"]
    assert warning["field"] == "outcomes.twice" and warning["line"] == 8
    assert "starts as the text '1e6'" in warning["reason"]
    spec = r.json()["scenario"]["spec"]
    assert spec["world"] == {"budget": "1e6", "n": 1_000_000.0}  # 1e6 unquoted is a number


# -- property: junk never yields a 5xx --------------------------------------------------------
_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ["\x1b[31m", "\u202e", "\x00", "NaN", "1e6", ".nan", "&a [*a]", "!!python/object:os.system"]
)
_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text
)
_junk = st.recursive(
    _leaf,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_text, inner, max_size=5),
    max_leaves=30,
)
_field_names = st.sampled_from(
    ["name", "agents", "world", "termination", "outcomes", "dynamics", "actions", "brain"]
)
_scenarish = st.fixed_dictionaries(
    {"name": _junk, "agents": _junk, "termination": _junk},
    optional={"world": _junk, "outcomes": _junk, "dynamics": _junk, "actions": _junk},
) | st.dictionaries(_field_names, _junk, max_size=6)


@pytest.fixture(scope="module")
def junk_client(live_server: LiveServer) -> Iterator[httpx.Client]:
    """One client for every example (a new one loads the CA bundle: ~50 ms each)."""
    with live_server.client(live_server.make_key("validation-junk", "owner")) as client:
        yield client


def _encode(data: Any, as_yaml: bool) -> str:
    text = json.dumps(data, ensure_ascii=False)
    return text if not as_yaml else "# junk\n" + text


@settings(
    max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
@given(
    data=_scenarish | _junk,
    route=st.sampled_from(["create", "validate", "upload"]),
    as_yaml=st.booleans(),
    deep=st.integers(min_value=0, max_value=3),
)
def test_junk_never_yields_a_server_error(
    junk_client: httpx.Client, data: Any, route: str, as_yaml: bool, deep: int
) -> None:
    client = junk_client
    for _ in range(deep * 40):  # some are nested past the limit
        data = [data]
    text = _encode(data, as_yaml)
    headers = YAML if as_yaml else JSON
    if route == "upload":
        name = "s.yaml" if as_yaml else "s.json"
        r = client.post("/v1/scenarios", files={"file": (name, text, "text/plain")})
    else:
        path = "/v1/scenarios" if route == "create" else "/v1/scenarios/validate"
        r = client.post(path, content=text.encode("utf-8", "surrogatepass"), headers=headers)
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert_problem(r, r.status_code)
