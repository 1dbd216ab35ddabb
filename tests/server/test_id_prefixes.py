"""Ids by unique prefix over real HTTP (the UI shows 8 characters): branch and scenario ids in
paths and queries resolve within the caller's tenant; too short or unknown is a 404,
ambiguous a 409 naming the field; another tenant's ids resolve exactly as missing ones do and
never make a prefix ambiguous."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, insert, select
from websockets.asyncio.client import connect

from aegntix.timeline import SqlStore
from aegntix.timeline.schema import branches
from tests.server.api_support import assert_problem, create, run_to_end
from tests.server.conftest import LiveServer


def clone_branch(store: SqlStore, source_id: str, new_id: str) -> None:
    """A second branch row, like ``source_id``'s, under an id of our choosing: random ids
    sharing a prefix would take hundreds of forks to appear."""

    def op(conn: Connection) -> None:
        row = conn.execute(select(branches).where(branches.c.id == source_id)).one()
        conn.execute(insert(branches).values({**row._asdict(), "id": new_id}))

    store.write(op)


def sibling(branch_id: str, keep: int) -> str:
    """An id sharing ``branch_id``'s first ``keep`` characters and no more."""
    nxt = "0" if branch_id[keep] != "0" else "1"
    return branch_id[:keep] + nxt * (len(branch_id) - keep)


@pytest.fixture(scope="module")
def tenant_a(live_server: LiveServer) -> dict[str, Any]:
    a = live_server.client(live_server.make_key("prefix-a", "owner"))
    made = create(a)
    run_to_end(a, made["root_branch"]["id"], steps=2)
    return {"client": a, "root": made["root_branch"]["id"], "scenario": made["scenario"]["id"]}


def test_unique_prefixes_resolve_on_paths_and_queries(tenant_a: dict[str, Any]) -> None:
    a: httpx.Client = tenant_a["client"]
    root, scenario = tenant_a["root"], tenant_a["scenario"]
    short = root[:8]
    got = a.get(f"/v1/branches/{short}")
    assert got.status_code == 200, got.text
    assert got.json()["id"] == root
    assert a.get(f"/v1/scenarios/{scenario[:8]}").json()["id"] == scenario
    assert a.get(f"/v1/branches/{root[:4]}").json()["id"] == root  # the minimum
    events = a.get(f"/v1/branches/{short}/events").json()["events"]
    assert events and all(e["branch_id"] == root for e in events)
    assert a.get(f"/v1/branches/{short}/state", params={"step": 1}).json()["branch_id"] == root

    fork = a.post(f"/v1/branches/{short}/fork", json={"at_step": 1})
    assert fork.status_code == 201, fork.text
    child = fork.json()
    assert child["parent_id"] == root
    compared = a.get("/v1/compare", params={"a": short, "b": child["id"][:8]})
    assert compared.status_code == 200, compared.text
    listed = a.get("/v1/branches", params={"scenario_id": scenario[:6]}).json()
    assert {b["id"] for b in listed} >= {root, child["id"]}
    run = a.post(f"/v1/branches/{child['id'][:8]}/run", json={"steps": 1})
    assert run.status_code == 202 and run.json()["branch_id"] == child["id"]


def test_too_short_or_unknown_is_404(tenant_a: dict[str, Any]) -> None:
    a: httpx.Client = tenant_a["client"]
    root = tenant_a["root"]
    short = assert_problem(a.get(f"/v1/branches/{root[:3]}"), 404)
    assert "at least 4 characters" in short["detail"]
    unknown = "ffff" if not root.startswith("ffff") else "0000"
    assert_problem(a.get(f"/v1/branches/{unknown}fff"), 404)
    assert_problem(a.get(f"/v1/scenarios/{unknown}"), 404)
    assert_problem(a.get("/v1/compare", params={"a": root[:8], "b": unknown}), 404)
    assert_problem(a.get("/v1/branches", params={"scenario_id": unknown}), 404)


def test_an_ambiguous_prefix_is_409_naming_the_matches(
    live_server: LiveServer, tenant_a: dict[str, Any]
) -> None:
    a: httpx.Client = tenant_a["client"]
    made = create(a)
    root = made["root_branch"]["id"]
    twin = sibling(root, 10)
    clone_branch(live_server.store, root, twin)
    for r, field in (
        (a.get(f"/v1/branches/{root[:8]}"), "branch_id"),
        (a.post(f"/v1/branches/{root[:10]}/fork", json={"at_step": 0}), "branch_id"),
        (a.get("/v1/compare", params={"a": tenant_a["root"], "b": root[:8]}), "b"),
    ):
        body = assert_problem(r, 409)
        assert body["type"].endswith("/ambiguous-id")
        assert body["errors"][0]["field"] == field
        assert root in body["detail"] and twin in body["detail"]
    # one more character settles it; the full id always does
    assert a.get(f"/v1/branches/{root[:11]}").json()["id"] == root
    assert a.get(f"/v1/branches/{twin}").json()["id"] == twin
    assert len(a.get("/v1/branches", params={"scenario_id": made["scenario"]["id"]}).json()) == 2


def test_foreign_ids_never_resolve_nor_make_a_prefix_ambiguous(
    live_server: LiveServer, tenant_a: dict[str, Any]
) -> None:
    a: httpx.Client = tenant_a["client"]
    root, scenario = tenant_a["root"], tenant_a["scenario"]
    b = live_server.client(live_server.make_key("prefix-b", "owner"))
    b_root = create(b)["root_branch"]["id"]

    # A's ids, whole or abbreviated, answer B exactly as ids that exist nowhere
    for ref in (root, root[:8], root[:4]):
        foreign = assert_problem(b.get(f"/v1/branches/{ref}"), 404)
        assert foreign["detail"] == f"no branch '{ref}'"
        assert b.get(f"/v1/branches/{ref}/events").status_code == 404
        assert b.post(f"/v1/branches/{ref}/fork", json={"at_step": 0}).status_code == 404
    assert assert_problem(b.get(f"/v1/scenarios/{scenario[:8]}"), 404)["detail"] == (
        f"no scenario '{scenario[:8]}'"
    )
    assert_problem(b.get("/v1/compare", params={"a": b_root[:8], "b": root[:8]}), 404)

    # B gets a branch sharing A's root's first 10 characters: each tenant's prefix still
    # names its own branch alone (no 409 from an id the caller cannot see)
    twin = sibling(root, 10)
    clone_branch(live_server.store, b_root, twin)
    assert b.get(f"/v1/branches/{root[:8]}").json()["id"] == twin
    assert a.get(f"/v1/branches/{root[:8]}").json()["id"] == root


async def test_the_stream_takes_a_prefix(live_server: LiveServer, tenant_a: dict[str, Any]) -> None:
    root = tenant_a["root"]
    key = live_server.make_key("prefix-a", "owner")
    url = f"{live_server.ws_url}/v1/branches/{root[:8]}/stream?api_key={key}"
    async with connect(url, proxy=None) as ws:
        hello = json.loads(await ws.recv())
    assert hello["type"] == "hello" and hello["branch_id"] == root
    other = live_server.make_key("prefix-b", "owner")  # (B may own an id sharing root[:10])
    url = f"{live_server.ws_url}/v1/branches/{root[:12]}/stream?api_key={other}"
    async with connect(url, proxy=None) as ws:
        await ws.wait_closed()
    assert ws.close_code == 4404


@pytest.mark.parametrize("ref", ["ab%00cd", "%00", "abcd%C3%A9", "ab%09cdef"])
def test_a_ref_no_id_can_be_is_a_404_on_both_backends(tenant_a: dict[str, Any], ref: str) -> None:
    # ids are printable ASCII; PostgreSQL text cannot even hold a NUL (such a ref once reached
    # the database and came back 503)
    a: httpx.Client = tenant_a["client"]
    for url in (
        f"/v1/branches?scenario_id={ref}",
        f"/v1/branches/tree?scenario_id={ref}",
        f"/v1/branches/{ref}",
        f"/v1/scenarios/{ref}",
        f"/v1/rollouts/{ref}",
    ):
        r = a.get(url)
        assert r.status_code == 404, (url, r.status_code, r.text)
