"""Helpers for the REST tests (the fixture itself is in conftest.py)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import yaml

from tests.support import EXAMPLES

PROBLEM_KEYS = {"type", "title", "status", "detail", "errors"}


def example_text(name: str) -> bytes:
    return (EXAMPLES / f"{name}.yaml").read_bytes()


def with_persistent_buyer(profile_id: str) -> bytes:
    """The negotiation example with memory on and its buyer the persistent agent given."""
    data = yaml.safe_load(example_text("negotiation"))
    data["memory"] = {"enabled": True, "reflect_threshold": 10}
    for agent in data["agents"]:
        if agent["id"] == "buyer":
            agent["profile"] = profile_id
    return yaml.safe_dump(data).encode()


def create(client: httpx.Client, name: str = "negotiation") -> dict[str, Any]:
    r = client.post(
        "/v1/scenarios", content=example_text(name), headers={"content-type": "application/yaml"}
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def wait_idle(client: httpx.Client, branch_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    delay = 0.02  # backing off: the server runs in this process and polls take its GIL
    while True:
        status: dict[str, Any] = client.get(f"/v1/branches/{branch_id}/status").json()
        if not status["running"]:
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"branch {branch_id} still running: {status}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)


def run_to_end(client: httpx.Client, branch_id: str, steps: int | None = None) -> dict[str, Any]:
    r = client.post(f"/v1/branches/{branch_id}/run", json={"steps": steps} if steps else None)
    if r.status_code == 409 and r.json()["type"].endswith("/branch-done"):
        return wait_idle(client, branch_id)  # already at its end: nothing to run
    assert r.status_code == 202, r.text
    return wait_idle(client, branch_id)


#: The news the swarm tests inject into the rumour example.
PLANT_NEWS = "The plant just signed a new ten-year contract with the harbour."


def organic_fork(client: httpx.Client, branch_id: str, seed_agent: str = "p00") -> str:
    """Fork ``branch_id`` at step 3 with :data:`PLANT_NEWS` as an ``organic`` injection seeded
    at ``seed_agent``, run 6 steps; the fork's id."""
    fork = client.post(
        f"/v1/branches/{branch_id}/fork",
        json={
            "at_step": 3,
            "label": "organic",
            "injection": {"content": PLANT_NEWS, "strategy": "organic", "targets": [seed_agent]},
        },
    )
    assert fork.status_code == 201, fork.text
    fork_id = str(fork.json()["id"])
    run_to_end(client, fork_id, 6)
    return fork_id


def all_events(client: httpx.Client, branch_id: str, **params: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    nxt: int | None = 1
    while nxt is not None:
        page = client.get(
            f"/v1/branches/{branch_id}/events", params={"from_seq": nxt, **params}
        ).json()
        events.extend(page["events"])
        nxt = page["next_seq"]
    return events


def assert_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert set(body) >= PROBLEM_KEYS, body
    assert body["status"] == status
    assert isinstance(body["errors"], list)
    return body


# -- walking the OpenAPI schema --------------------------------------------------------------
#: A valid body for every operation that takes one, so a call fails on its id or role, never
#: on validation. A new operation with a body must be added here (the walkers insist).
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/scenarios"): {
        "content": example_text("negotiation"),
        "headers": {"content-type": "application/yaml"},
    },
    ("POST", "/v1/scenarios/validate"): {
        "content": example_text("negotiation"),
        "headers": {"content-type": "application/yaml"},
    },
    ("POST", "/v1/branches/{branch_id}/fork"): {"json": {"at_step": 0}},
    ("POST", "/v1/branches/{branch_id}/run"): {"json": {"steps": 1}},
    ("POST", "/v1/branches/{branch_id}/resume"): {"json": {"steps": 1}},
    ("POST", "/v1/branches/{branch_id}/inject"): {"json": {"content": "hello", "at_step": 0}},
    ("POST", "/v1/branches/{branch_id}/injections/explain"): {"json": {"content": "hello"}},
    ("POST", "/v1/branches/{branch_id}/rollouts"): {"json": {"at_step": 0, "n": 1}},
    ("POST", "/v1/rollouts/{set_id}/extend"): {"json": {"to": 1}},
    ("POST", "/v1/keys"): {"json": {"role": "viewer", "name": "probe"}},
    ("POST", "/v1/agents"): {"json": {"id": "probe", "name": "Probe"}},
    ("PATCH", "/v1/agents/{profile_id}"): {"json": {"name": "Renamed"}},
}

#: Query parameters that carry ids.
ID_QUERY = {"scenario_id", "a", "b"}


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every (METHOD, path template, operation) of the schema."""
    found = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                found.append((method.upper(), path, op))
    return found


def has_body(op: dict[str, Any]) -> bool:
    return "requestBody" in op


def request_kwargs(method: str, path: str, op: dict[str, Any]) -> dict[str, Any]:
    body = BODIES.get((method, path))
    if body is None and op.get("requestBody", {}).get("required"):
        raise AssertionError(f"no sample body for {method} {path}: add one to BODIES")
    return dict(body or {})


def fill(path: str, values: dict[str, str]) -> str:
    """The path with each ``{param}`` replaced; an unknown parameter fails the test."""
    out = path
    while "{" in out:
        start, end = out.index("{"), out.index("}")
        name = out[start + 1 : end]
        if name not in values:
            raise AssertionError(f"no value for path parameter {{{name}}} of {path}")
        out = out[:start] + values[name] + out[end + 1 :]
    return out


def query_ids(op: dict[str, Any]) -> set[str]:
    return {
        p["name"] for p in op.get("parameters", []) if p["in"] == "query" and p["name"] in ID_QUERY
    }
