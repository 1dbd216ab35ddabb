"""The examples over HTTP: every example the CLI's `serve --examples` loads is offered (the
persistent-agent story too), and starting one again is a new run with a numbered name."""

from __future__ import annotations

import uuid

from aegntix.cli.serve import load_examples
from tests.server.api_support import assert_problem
from tests.server.conftest import LiveServer


def test_the_persistent_agent_example_is_offered_and_starts(live_server: LiveServer) -> None:
    tenant = f"ex-{uuid.uuid4().hex[:8]}"
    client = live_server.client(live_server.make_key(tenant, "owner"))
    examples = {e["name"]: e for e in client.get("/v1/examples").json()}
    dana = examples["persistent-van-sale"]
    assert dana["file"] == "persistent/1-van-sale.yaml"
    assert dana["title"] == "Delivery van sale (Dana remembers)"
    assert "2-second-van" not in str(examples)  # a later chapter: after keeping a branch

    assert client.get("/v1/agents/dana").status_code == 404  # a fresh tenant has no Dana
    r = client.post("/v1/examples/persistent-van-sale")
    assert r.status_code == 201, r.text
    spec = client.get(f"/v1/scenarios/{r.json()['scenario']['id']}").json()["spec"]
    buyer = next(a for a in spec["agents"] if a["id"] == "buyer")
    assert buyer["profile"]["id"] == "dana"
    assert client.get("/v1/agents/dana").json()["name"] == "Dana Whitfield"

    # the cards are what `serve --examples` records, no more, no less
    added = load_examples(live_server.store, tenant=f"{tenant}-cli")
    titles = {e["title"] for e in examples.values()}
    assert set(added) == titles


def test_starting_an_example_again_numbers_the_new_run(live_server: LiveServer) -> None:
    tenant = f"ex-{uuid.uuid4().hex[:8]}"
    client = live_server.client(live_server.make_key(tenant, "owner"))
    names = [client.post("/v1/examples/town-hall").json()["scenario"]["name"] for _ in range(3)]
    base = "Riverside flood-barrier town hall"
    assert names == [base, f"{base} (2)", f"{base} (3)"]
    listed = [s["name"] for s in client.get("/v1/scenarios").json()]
    assert sorted(listed) == sorted(names)
    # another tenant's runs do not count
    other = live_server.client(live_server.make_key(f"{tenant}-b", "owner"))
    assert other.post("/v1/examples/town-hall").json()["scenario"]["name"] == base


def test_an_example_whose_agent_was_deleted_says_so(live_server: LiveServer) -> None:
    tenant = f"ex-{uuid.uuid4().hex[:8]}"
    client = live_server.client(live_server.make_key(tenant, "owner"))
    assert client.post("/v1/examples/persistent-van-sale").status_code == 201
    assert client.delete("/v1/agents/dana").status_code == 204
    body = assert_problem(client.post("/v1/examples/persistent-van-sale"), 404)
    assert "dana" in body["detail"]
    assert not [s for s in client.get("/v1/scenarios").json() if "(2)" in s["name"]]
