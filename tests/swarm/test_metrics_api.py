"""``GET /v1/branches/{id}/metrics`` over real HTTP: the same figures as the library reads
from the timeline, tenant-scoped, and ``aegntix metrics`` on the same store."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from aegntix.cli import app
from aegntix.swarm.metrics import branch_metrics

from ..server.api_support import run_to_end
from ..server.conftest import serving
from .support import swarm

GROUPS = {
    "kind": "groups",
    "groups": {"x": ["a0", "a1", "a2"], "y": ["a3", "a4", "a5"]},
    "bridges": [["a2", "a3"]],
}


def test_metrics_endpoint_and_tenant_isolation(tmp_path: Path) -> None:
    with serving(tmp_path) as server, server.client(server.owner_key) as http:
        spec = swarm(6, GROUPS).model_dump(mode="json", exclude_unset=True)
        made = http.post("/v1/scenarios", json=spec)
        assert made.status_code == 201, made.text
        branch_id = made.json()["root_branch"]["id"]
        run_to_end(http, branch_id, 4)
        got = http.get(f"/v1/branches/{branch_id}/metrics")
        assert got.status_code == 200, got.text
        body = got.json()
        assert [s["step"] for s in body["steps"]] == [0, 1, 2, 3, 4]
        assert body["final"] == body["steps"][-1]
        assert body == branch_metrics(server.store, branch_id).to_json()
        assert body["params"]["er_alpha"] == 1.6
        assert http.get(f"/v1/branches/{branch_id[:6]}/metrics").json() == body  # prefix
        assert http.get("/v1/branches/nope0000/metrics").status_code == 404
        with server.client(server.make_key("other", "viewer")) as foreign:
            assert foreign.get(f"/v1/branches/{branch_id}/metrics").status_code == 404
    # the CLI reads the same store file
    db = str(tmp_path / "server.db")
    out = CliRunner().invoke(app, ["metrics", branch_id, "--db", db, "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["steps"] == body["steps"]
    shown = CliRunner().invoke(app, ["metrics", branch_id, "--db", db])
    assert shown.exit_code == 0 and "polarization" in shown.output
    assert "echo chamber" in shown.output
    compared = CliRunner().invoke(app, ["compare", branch_id, branch_id, "--db", db])
    assert compared.exit_code == 0 and "emergence metrics" in compared.output
    both = CliRunner().invoke(app, ["compare", branch_id, branch_id, "--db", db, "--json"])
    assert json.loads(both.output)["metrics_a"]["polarization"] == body["final"]["polarization"]
    missing = CliRunner().invoke(app, ["metrics", "nope0000", "--db", db])
    assert missing.exit_code != 0 and len(missing.output.strip().splitlines()) == 1
