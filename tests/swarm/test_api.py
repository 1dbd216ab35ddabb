"""``GET /v1/scenarios/{id}/topology`` over real HTTP: the recorded graph, for the UI."""

from __future__ import annotations

from pathlib import Path

import yaml

from aegntix.model.loading import validate_scenario
from aegntix.swarm.topology import build

from ..server.conftest import serving
from .support import swarm

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rumour_small_world.yaml"


def test_topology_of_a_small_world_and_of_a_mesh(tmp_path: Path) -> None:
    with serving(tmp_path) as server, server.client(server.owner_key) as http:
        made = http.post(
            "/v1/scenarios",
            content=EXAMPLE.read_bytes(),
            headers={"content-type": "application/yaml"},
        )
        assert made.status_code == 201, made.text
        scenario_id = made.json()["scenario"]["id"]
        got = http.get(f"/v1/scenarios/{scenario_id}/topology")
        assert got.status_code == 200
        body = got.json()
        assert body["kind"] == "small_world" and not body["complete"]
        assert len(body["nodes"]) == 30
        spec = yaml.safe_load(EXAMPLE.read_text())
        expected = build(validate_scenario(spec)).edges
        assert [tuple(e) for e in body["edges"]] == list(expected)

        mesh = swarm(4, None).model_dump(mode="json")
        made = http.post("/v1/scenarios", json=mesh)
        plain = http.get(f"/v1/scenarios/{made.json()['scenario']['id']}/topology").json()
        assert plain["kind"] == "mesh" and plain["complete"] and plain["edges"] == []
        assert http.get("/v1/scenarios/nope0000/topology").status_code == 404
        # another tenant's key: the scenario does not exist for it (invariant 6)
        with server.client(server.make_key("other", "viewer")) as foreign:
            assert foreign.get(f"/v1/scenarios/{scenario_id}/topology").status_code == 404
