"""Authentication and roles over real HTTP; API keys through the API and the CLI."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from aegntix.cli import app as cli_app
from aegntix.security.keys import (
    authenticate,
    cached_principal,
    create_key,
    ensure_bootstrap_key,
    revoke_key,
)
from aegntix.security.roles import Action, Role
from aegntix.timeline import open_store
from tests.server.api_support import (
    all_events,
    assert_problem,
    create,
    fill,
    operations,
    query_ids,
    request_kwargs,
    run_to_end,
    with_persistent_buyer,
)
from tests.server.conftest import LiveServer

READ_ONLY_POSTS = {
    ("POST", "/v1/scenarios/validate"),
    ("POST", "/v1/branches/{branch_id}/injections/explain"),  # a preview: writes nothing
}


@pytest.fixture(scope="module")
def schema(live_server: LiveServer) -> dict[str, Any]:
    data: dict[str, Any] = httpx.get(f"{live_server.base_url}/openapi.json", timeout=60).json()
    return data


@pytest.fixture(scope="module")
def tenant_data(live_server: LiveServer) -> dict[str, str]:
    """A scenario (with a persistent agent) with a run branch and a key, in tenant 'roles'."""
    owner = live_server.client(live_server.make_key("roles", "owner"))
    agent = owner.post("/v1/agents", json={"id": "roles-agent", "name": "Dana"}).json()
    created = owner.post(
        "/v1/scenarios",
        content=with_persistent_buyer(agent["id"]),
        headers={"content-type": "application/yaml"},
    )
    root = created.json()["root_branch"]
    run_to_end(owner, root["id"], steps=2)
    said = next(e for e in all_events(owner, root["id"]) if e["kind"] == "message")
    key = owner.post("/v1/keys", json={"role": "viewer", "name": "spare"}).json()
    other = create(owner)["root_branch"]  # a rollout set, in a scenario of its own
    run_to_end(owner, other["id"], steps=1)
    rollouts = owner.post(f"/v1/branches/{other['id']}/rollouts", json={"at_step": 1, "n": 1})
    assert rollouts.status_code == 202, rollouts.text
    return {
        "set_id": rollouts.json()["id"],
        "scenario_id": root["scenario_id"],
        "branch_id": root["id"],
        "key_id": key["id"],
        "name": "negotiation",
        "profile_id": agent["id"],
        "seq": str(said["seq"]),
    }


def _call(client: httpx.Client, method: str, path: str, op: dict[str, Any], ids: dict[str, str]):
    params = {q: ids["branch_id"] if q in {"a", "b"} else ids[q] for q in query_ids(op)}
    return client.request(
        method, fill(path, ids), params=params, **request_kwargs(method, path, op)
    )


def test_role_table() -> None:
    assert [a for a in Action if Role.VIEWER.can(a)] == [Action.READ]
    assert [a for a in Action if Role.EDITOR.can(a)] == [Action.READ, Action.WRITE]
    assert [a for a in Action if Role.SERVICE.can(a)] == [Action.READ, Action.WRITE]
    assert all(Role.ADMIN.can(a) for a in Action)
    assert all(Role.OWNER.can(a) for a in Action)
    assert Role.OWNER.covers(Role.ADMIN) and not Role.ADMIN.covers(Role.OWNER)
    assert Role.EDITOR.covers(Role.VIEWER) and not Role.VIEWER.covers(Role.EDITOR)


def test_no_key_is_401_everywhere(live_server: LiveServer, schema, tenant_data) -> None:
    anonymous = live_server.client()
    bad = live_server.client("agx_0123456789abcdef_not-the-secret")
    checked = 0
    for method, path, op in operations(schema):
        if path == "/v1/health":
            continue
        for client in (anonymous, bad):
            r = _call(client, method, path, op, tenant_data)
            body = assert_problem(r, 401)
            assert "Bearer" in r.headers["www-authenticate"], body
            checked += 1
    assert checked >= 40


def test_viewer_reads_but_every_write_is_403(live_server: LiveServer, schema, tenant_data) -> None:
    viewer = live_server.client(live_server.make_key("roles", "viewer"))
    writes = 0
    for method, path, op in operations(schema):
        r = _call(viewer, method, path, op, tenant_data)
        reads = method == "GET" and not path.startswith("/v1/keys")
        if reads or (method, path) in READ_ONLY_POSTS:
            assert r.status_code == 200, (path, r.text)
        else:
            assert_problem(r, 403)
            writes += 1
    assert writes >= 11
    # ...and nothing changed.
    owner = live_server.client(live_server.make_key("roles", "owner"))
    branch = owner.get(f"/v1/branches/{tenant_data['branch_id']}").json()
    assert branch["head_step"] == 2
    branches = owner.get("/v1/branches", params={"scenario_id": tenant_data["scenario_id"]})
    assert len(branches.json()) == 1


def test_editor_cannot_delete_or_manage_keys(live_server: LiveServer, tenant_data) -> None:
    editor = live_server.client(live_server.make_key("roles", "editor"))
    assert_problem(editor.delete(f"/v1/scenarios/{tenant_data['scenario_id']}"), 403)
    assert_problem(editor.get("/v1/keys"), 403)
    assert_problem(editor.post("/v1/keys", json={"role": "viewer"}), 403)
    assert (
        editor.post(
            f"/v1/branches/{tenant_data['branch_id']}/fork", json={"at_step": 1}
        ).status_code
        == 201
    )


def test_keys_api(live_server: LiveServer) -> None:
    admin = live_server.client(live_server.make_key("keys-api", "admin"))
    r = admin.post("/v1/keys", json={"role": "editor", "name": "ci"})
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["key"].startswith(f"agx_{made['id']}_") and made["role"] == "editor"
    listed = admin.get("/v1/keys").json()
    assert made["id"] in {k["id"] for k in listed}
    assert all("key" not in k and "secret_hash" not in k for k in listed)
    assert made["key"] not in json.dumps(listed)
    # An admin cannot mint an owner key.
    body = assert_problem(admin.post("/v1/keys", json={"role": "owner"}), 403)
    assert body["errors"][0]["field"] == "role"
    editor = live_server.client(made["key"])
    assert editor.get("/v1/scenarios").status_code == 200
    assert admin.delete(f"/v1/keys/{made['id']}").status_code == 204
    assert_problem(editor.get("/v1/scenarios"), 401)  # revoked: refused at once
    assert admin.delete(f"/v1/keys/{made['id']}").status_code == 204  # idempotent
    assert_problem(admin.delete("/v1/keys/0000000000000000"), 404)
    assert_problem(admin.post("/v1/keys", json={"role": "emperor"}), 422)


def test_key_header_forms(live_server: LiveServer) -> None:
    key = live_server.make_key("headers", "viewer")
    url = f"{live_server.base_url}/v1/scenarios"
    assert httpx.get(url, headers={"X-API-Key": key}, timeout=60).status_code == 200
    assert httpx.get(url, headers={"Authorization": f"bearer {key}"}, timeout=60).status_code == 200
    assert httpx.get(url, headers={"Authorization": f"Basic {key}"}, timeout=60).status_code == 401
    assert (
        httpx.get(url, params={"api_key": key}, timeout=60).status_code == 401
    )  # query: WebSocket only
    tampered = key[:-2] + ("AA" if not key.endswith("AA") else "BB")
    assert httpx.get(url, headers={"X-API-Key": tampered}, timeout=60).status_code == 401


def test_keys_are_hashed_and_cached(location: str) -> None:
    with open_store(location) as store:
        key_id, key = create_key(store, "t1", Role.EDITOR, "x")
        with store.engine.connect() as conn:
            stored = conn.exec_driver_sql("SELECT * FROM api_keys").all()
        assert key not in repr(stored) and key.split("_", 2)[2] not in repr(stored)
        principal = authenticate(store, key)
        assert principal is not None
        assert (principal.tenant_id, principal.role, principal.key_id) == ("t1", "editor", key_id)
        assert authenticate(store, key) == principal  # from the cache
        assert cached_principal(store, key) == principal  # what the server checks on its loop
        assert authenticate(store, key + "x") is None
        assert cached_principal(store, key + "x") is None  # never verified: not cached
        assert authenticate(store, "agx_short_x") is None
        assert authenticate(store, "") is None
        assert cached_principal(store, "x" * 10_000) is None
        revoke_key(store, key_id)
        assert cached_principal(store, key) is None  # revoked here: gone from the cache at once
        assert authenticate(store, key) is None


def test_bootstrap_key_once_with_0600(location: str, tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        with open_store(location) as store:
            target = tmp_path / "sub" / "owner.key"
            key = ensure_bootstrap_key(store, target)
            assert key is not None
            assert stat.S_IMODE(target.stat().st_mode) == 0o600
            assert target.read_text().strip() == key
            principal = authenticate(store, key)
            assert principal is not None and principal.role is Role.OWNER
            assert principal.tenant_id == "default"
            assert ensure_bootstrap_key(store, target) is None  # keys exist: nothing new
    finally:
        os.umask(old)


def test_server_bootstrap_key_works(live_server: LiveServer) -> None:
    assert stat.S_IMODE(live_server.key_file.stat().st_mode) == 0o600
    owner = live_server.client(live_server.key_file.read_text().strip())
    assert owner.get("/v1/keys").status_code == 200


def test_cli_keys(location: str) -> None:
    runner = CliRunner()
    db = location
    r = runner.invoke(
        cli_app, ["keys", "create", "--tenant", "acme", "--role", "viewer", "--db", db, "--json"]
    )
    assert r.exit_code == 0, r.output
    made = json.loads(r.output)
    assert made["key"].startswith("agx_") and made["role"] == "viewer"
    r = runner.invoke(cli_app, ["keys", "list", "--db", db, "--json"])
    listed = json.loads(r.output)
    assert [k["id"] for k in listed] == [made["id"]] and made["key"] not in r.output
    r = runner.invoke(cli_app, ["keys", "revoke", made["id"], "--db", db])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli_app, ["keys", "revoke", "ffffffffffffffff", "--db", db])
    assert r.exit_code == 3
    r = runner.invoke(
        cli_app, ["keys", "create", "--tenant", "bad tenant!", "--role", "owner", "--db", db]
    )
    assert r.exit_code == 2


@pytest.mark.parametrize(
    ("role", "can"),
    [
        ("viewer", ["read"]),
        ("editor", ["read", "write"]),
        ("admin", ["read", "write", "delete", "manage_keys"]),
    ],
)
def test_me_tells_a_key_its_tenant_and_role(live_server: LiveServer, role: str, can: list[str]):
    key = live_server.make_key("whoami", role)
    me = live_server.client(key).get("/v1/me")
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["tenant_id"] == "whoami" and body["role"] == role and body["can"] == can
    assert key.startswith(f"agx_{body['key_id']}_") and key not in me.text
    assert_problem(live_server.client().get("/v1/me"), 401)
