"""A worker process counts its slices and steps in its own /metrics (``--metrics-port``),
and an API replica on the work queue reports the queue's depth."""

from __future__ import annotations

import re

import httpx
import pytest

from aegntix.timeline.sqlstore import SqlStore
from tests.workers.support import Cluster, free_port, town_hall, wait_for

pytestmark = pytest.mark.slow

STEPS = 12


def _sample(text: str, name: str, labels: str = "") -> float | None:
    pattern = rf"^{re.escape(name)}{re.escape(labels)} (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return None if found is None else float(found.group(1))


def test_a_worker_serves_its_slice_and_step_counts(cluster: Cluster, db: SqlStore) -> None:
    api = cluster.serve().client()
    port = free_port()
    worker = cluster.worker(metrics_port=port)
    scrape = f"http://127.0.0.1:{port}/metrics"
    before = httpx.get(scrape, timeout=10).text
    assert _sample(before, "aegntix_slice_steps_total") in (None, 0.0)

    r = api.post(
        "/v1/scenarios", content=town_hall(STEPS), headers={"content-type": "application/yaml"}
    )
    assert r.status_code == 201, r.text
    branch = str(r.json()["root_branch"]["id"])
    created = db.get_branch(branch).head_seq  # written by the API replica, not the worker
    assert api.post(f"/v1/branches/{branch}/run").status_code in (200, 202)
    wait_for(
        "the run to end",
        lambda: api.get(f"/v1/branches/{branch}/status").json()["status"] == "done",
    )

    after = httpx.get(scrape, timeout=10).text
    # every step of the run was taken inside this worker's slices, and counted once
    assert _sample(after, "aegntix_slice_steps_total") == STEPS
    assert _sample(after, "aegntix_steps_total") == STEPS
    slices = _sample(after, "aegntix_slice_seconds_count")
    assert slices is not None and slices >= 1
    events = _sample(after, "aegntix_events_appended_total")
    assert events == db.get_branch(branch).head_seq - created
    # the worker reports the queue it reads: nothing waiting once the run ended, as a 0
    # (not a missing series, which dashboards show as "no data")
    assert _sample(after, "aegntix_queue_depth", '{queue="aegntix"}') == 0.0

    # its log lines about the run carry the run's ids under the documented names
    settled = [line for line in worker.lines() if line.get("event") == "run settled"]
    assert settled and all(
        (line["branch_id"], line["tenant_id"]) == (branch, "default") for line in settled
    )

    replica = api.get("/metrics").text  # loopback client: allowed without a token
    assert _sample(replica, "aegntix_queue_depth", '{queue="aegntix"}') == 0.0
