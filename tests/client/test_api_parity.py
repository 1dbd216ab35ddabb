"""A set made from Python on the server's own database, in one tenant, is what the REST API
serves to that tenant (real HTTP on loopback): the same stats, the same members; another
tenant does not see it. On both backends."""

from __future__ import annotations

import json
from pathlib import Path

import aegntix
from tests.server.conftest import serving
from tests.support import EXAMPLES


def test_the_api_serves_what_python_made(tmp_path: Path, location: str) -> None:
    with serving(tmp_path, db=location) as server, aegntix.Sandbox(location, tenant="lab") as lab:
        main = lab.run(EXAMPLES / "town-hall.yaml", steps=3)
        flood = main.rollouts(2, 4, "The river flooded the car park.", stance=0.9)

        with server.client(server.make_key("lab", "viewer")) as client:
            served = client.get(f"/v1/rollouts/{flood.id}/stats")
            assert served.status_code == 200, served.text
            assert served.json() == json.loads(json.dumps(flood.stats()))
            members = client.get(f"/v1/rollouts/{flood.id}/members").json()
            assert [m["branch_id"] for m in members] == [m.branch_id for m in flood.members()]
            branch = client.get(f"/v1/branches/{main.id}").json()
            assert branch["id"] == main.id and branch["head_step"] == 3

        with server.client(server.make_key("elsewhere", "viewer")) as other:
            assert other.get(f"/v1/rollouts/{flood.id}/stats").status_code == 404
