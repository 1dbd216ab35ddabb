"""``GET /v1/branches/{id}/hearings`` (who heard what at a step, for the network view) and
``GET /v1/branches/{id}/metrics`` (the emergence panel) over real HTTP, on the 30-villager
small-world rumour and an organic fork of it: checked against the recorded graph (a reference
computation with networkx), the library's metrics and the state fold, tenant-scoped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx

from aegntix.swarm.metrics import branch_metrics
from aegntix.timeline.state import state_at

from ..server.api_support import PLANT_NEWS, all_events, organic_fork, run_to_end
from ..server.conftest import serving

NEWS = PLANT_NEWS


def _graph(topology: dict[str, Any]) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(n["id"] for n in topology["nodes"])
    g.add_edges_from(topology["edges"])
    return g


def test_hearings_follow_the_recorded_graph_and_match_the_metrics(tmp_path: Path) -> None:
    with serving(tmp_path) as server, server.client(server.owner_key) as http:
        made = http.post("/v1/examples/rumour_small_world")
        assert made.status_code == 201, made.text
        root = made.json()["root_branch"]["id"]
        topology = http.get(f"/v1/scenarios/{made.json()['scenario']['id']}/topology").json()
        graph = _graph(topology)
        order = [n["id"] for n in topology["nodes"]]
        run_to_end(http, root)

        # the metrics the emergence panel charts are the library's, read from the timeline
        metrics = http.get(f"/v1/branches/{root}/metrics").json()
        assert metrics == branch_metrics(server.store, root).to_json()
        assert [s["step"] for s in metrics["steps"]] == list(range(16))

        for step in (0, 1, 7, 15):
            got = http.get(f"/v1/branches/{root}/hearings", params={"step": step})
            assert got.status_code == 200, got.text
            body = got.json()
            assert body["step"] == step and body["head_step"] == 15
            said = [x for x in body["said"] if x["kind"] == "message"]
            if step == 0:
                assert body["said"] == [] and body["injections"] == []
            else:
                assert said, step
            for x in said:
                # nobody addresses anyone here: a message reaches exactly the speaker's
                # neighbours, in file order
                assert x["to"] is None
                near = set(graph.neighbors(x["agent_id"]))
                assert x["hearers"] == [a for a in order if a in near]
            # the same hearings the metrics count
            assert sum(len(x["hearers"]) for x in said) == metrics["steps"][step]["heard"]
            # stances after the step: the state fold
            agents = state_at(server.store, root, step)["agents"]
            assert body["stances"] == {k: v["stance"] for k, v in agents.items()}
        assert http.get(f"/v1/branches/{root}/hearings").json()["step"] == 15  # the head

        # an organic fork: news reaches Ada at step 4, then one hop a step along the graph
        fork_id = organic_fork(http, root)
        hops = nx.single_source_shortest_path_length(graph, "p00")
        assert (
            http.get(f"/v1/branches/{fork_id}/hearings", params={"step": 3}).json()["injections"]
            == []
        )
        injected = [e for e in all_events(http, fork_id) if e["kind"] == "injection"]
        for step in range(4, 10):
            body = http.get(f"/v1/branches/{fork_id}/hearings", params={"step": step}).json()
            (reach,) = body["injections"]
            assert reach["seq"] == injected[0]["seq"] and reach["step"] == 4
            assert reach["strategy"] == "organic" and reach["text"] == NEWS
            within = {a for a, d in hops.items() if d <= step - 4}
            assert set(reach["heard"]) == within, step
            assert [w["step"] for w in reach["waves"]] == sorted(w["step"] for w in reach["waves"])
            for w in reach["waves"]:
                assert {hops[a] for a in w["agents"]} == {w["step"] - 4}
                if w["step"] > 4:  # passed on by a neighbour who heard it a step before
                    assert all(graph.has_edge(w["via"], a) for a in w["agents"])
                    assert hops[w["via"]] == w["step"] - 5
            # every injection event of the fork so far is one wave of this reach
            assert {w["seq"] for w in reach["waves"]} == {
                e["seq"] for e in injected if e["step"] <= step
            }

        # told by a villager: her neighbours hear it first, from her (she is never told)
        told = http.post(
            f"/v1/branches/{root}/fork",
            json={
                "at_step": 3,
                "injection": {
                    "content": NEWS,
                    "strategy": "organic",
                    "schedule": {"source": "agent:p10"},
                },
            },
        )
        assert told.status_code == 201, told.text
        run_to_end(http, told.json()["id"], 1)
        body = http.get(f"/v1/branches/{told.json()['id']}/hearings").json()
        (first,) = body["injections"][0]["waves"]
        assert first["via"] == "p10" and first["step"] == 4
        assert set(first["agents"]) == set(graph.neighbors("p10"))

        # bad steps, and another tenant's branch
        bad = http.get(f"/v1/branches/{root}/hearings", params={"step": 16})
        assert bad.status_code == 422 and "0..15" in bad.text
        assert http.get(f"/v1/branches/{root}/hearings", params={"step": -1}).status_code == 422
        assert http.get("/v1/branches/nope0000/hearings").status_code == 404
        with server.client(server.make_key("other", "viewer")) as foreign:
            assert foreign.get(f"/v1/branches/{root}/hearings").status_code == 404
            assert foreign.get(f"/v1/branches/{root}/metrics").status_code == 404
