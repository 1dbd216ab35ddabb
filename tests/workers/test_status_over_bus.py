"""Status changes a worker process makes, and those an API replica announces without storing
them (``pausing``), reach a WebSocket client on another replica over the store's bus, at once:
the stream's periodic re-read of the store (``ping_interval``) is set to ten minutes here, so
a ``paused`` or ``done`` that arrives within the (much shorter) waits below came over the bus,
not from a re-check. Real processes: two ``aegntix serve`` replicas and one ``aegntix worker``
on a fresh PostgreSQL schema, shared by the module's tests (each makes its own branch)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from aegntix.timeline import SqlStore, open_postgres_store
from aegntix.workers.census import count_live
from tests.postgres import SessionDatabase
from tests.workers.support import Cluster, Replica, cluster_of, town_hall, wait_for

pytestmark = pytest.mark.slow

#: The stream's store re-read (and ping) period of the replicas in these tests (seconds).
RECHECK_S = 600.0
#: How long a test waits for a status: far below ``RECHECK_S``, only bounds a hang.
WAIT_S = 180.0


@dataclass
class Shared:
    """The module's cluster (its replicas A and B started once), and a store on its schema.
    Tests make their own branches; each starts or stops the worker as it needs."""

    cluster: Cluster
    a: Replica
    b: Replica
    store: SqlStore

    def no_worker(self) -> None:
        """No worker alive: any a previous test left running is stopped."""
        self.cluster.stop_workers()
        wait_for("no live worker", lambda: count_live(self.store, 3.0) == 0, WAIT_S)


@pytest.fixture(scope="module")
def shared(pg_database: SessionDatabase, tmp_path_factory: pytest.TempPathFactory) -> Any:
    url = pg_database.new_url()
    env = {
        "AEGNTIX_WS_PING_INTERVAL": str(RECHECK_S),
        "AEGNTIX_WS_IDLE_TIMEOUT": str(RECHECK_S * 2),
    }
    for cluster in cluster_of(url, tmp_path_factory.mktemp("bus"), **env):
        a, b = cluster.serve(), cluster.serve()
        store = open_postgres_store(url)
        try:
            yield Shared(cluster, a, b, store)
        finally:
            store.close()


def _scenario(api: httpx.Client, steps: int) -> str:
    r = api.post(
        "/v1/scenarios", content=town_hall(steps), headers={"content-type": "application/yaml"}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["root_branch"]["id"])


class Watch:
    """One stream client: every message in arrival order, with its arrival time."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.messages: list[tuple[float, dict[str, Any]]] = []

    async def until_status(self, wanted: str) -> float:
        """Read until a ``status`` message says ``wanted``; its arrival time."""
        deadline = time.monotonic() + WAIT_S
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no '{wanted}' status within {WAIT_S:.0f} s: {self.statuses}"
            message = json.loads(await asyncio.wait_for(self.ws.recv(), left))
            now = time.monotonic()
            self.messages.append((now, message))
            if message["type"] == "status" and message["status"] == wanted:
                return now

    @property
    def statuses(self) -> list[str]:
        return [m["status"] for _, m in self.messages if m["type"] == "status"]

    @property
    def seqs(self) -> list[int]:
        return [m["event"]["seq"] for _, m in self.messages if m["type"] == "event"]


def _url(replica: Replica, branch: str) -> str:
    return f"{replica.ws_base}/v1/branches/{branch}/stream?api_key={replica.key}"


@dataclass
class Setup:
    """Replica A (whose client watches), replica B (through which runs are driven), one
    worker, a town-hall branch and the watching client (its hello read)."""

    a: Replica
    b: Replica
    branch: str
    watch: Watch
    hello: dict[str, Any]

    def state(self) -> dict[str, Any]:
        with self.a.client() as api:
            body: dict[str, Any] = api.get(f"/v1/branches/{self.branch}/status").json()
            return body

    def settled(self) -> bool:
        return not self.state()["running"]

    def post(self, action: str) -> None:
        with self.b.client() as via_b:
            r = via_b.post(f"/v1/branches/{self.branch}/{action}")
            assert r.status_code == 202, r.text


@contextlib.asynccontextmanager
async def _watching(shared: Shared, steps: int) -> AsyncIterator[Setup]:
    a, b = shared.a, shared.b
    shared.cluster.live_worker()
    with a.client() as api:
        branch = _scenario(api, steps)
    async with connect(_url(a, branch), proxy=None) as ws:
        hello = json.loads(await ws.recv())
        yield Setup(a, b, branch, Watch(ws), hello)


async def test_done_set_by_a_worker_reaches_a_client_on_another_replica_at_once(
    shared: Shared,
) -> None:
    async with _watching(shared, 8) as setup:
        watch = setup.watch
        assert setup.hello["status"] == "idle"
        opened = time.monotonic()
        setup.post("run")  # through the other replica
        arrived = await watch.until_status("done")
        state = setup.state()
    assert arrived - opened < RECHECK_S  # before any re-check of the store could have run
    assert state["status"] == "done" and not state["running"]
    # every event of the run, once and in order, all of them before "done"
    assert watch.seqs == list(range(1, int(state["head_seq"]) + 1))
    assert watch.statuses[-1] == "done" and "running" in watch.statuses
    assert not any(m["type"] == "ping" for _, m in watch.messages)  # no re-check ran


async def test_paused_set_by_a_worker_reaches_a_client_on_another_replica_at_once(
    shared: Shared,
) -> None:
    async with _watching(shared, 5000) as setup:
        watch = setup.watch
        setup.post("run")
        await watch.until_status("running")  # the worker took the slice
        asked = time.monotonic()
        setup.post("pause")
        arrived = await watch.until_status("paused")
        await asyncio.to_thread(wait_for, "the run settled", setup.settled, WAIT_S)
        state = setup.state()
    assert arrived - asked < RECHECK_S
    assert state["status"] == "paused" and int(state["head_step"]) < 5000
    # B's "pausing" (no row holds it) reaches A's client too, over the bus, before "paused"
    assert watch.statuses.count("pausing") == 1
    assert watch.statuses.index("pausing") < watch.statuses.index("paused")
    # once each, in order, every event of the run before "paused"
    assert watch.seqs == list(range(1, int(state["head_seq"]) + 1))


async def test_done_set_by_a_cli_run_reaches_a_client_of_a_replica_at_once(
    shared: Shared,
) -> None:
    cluster, a = shared.cluster, shared.a
    with a.client() as api:
        branch = _scenario(api, 4)
    async with connect(_url(a, branch), proxy=None) as ws:
        watch = Watch(ws)
        await ws.recv()  # hello
        opened = time.monotonic()
        cli = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "aegntix",
            "continue",
            branch,
            "--db",
            cluster.db,
            "--quiet",
            env=cluster._env(),  # no AEGNTIX_BUS: the CLI notifies on the database itself
            stdout=asyncio.subprocess.DEVNULL,
        )
        arrived = await watch.until_status("done")
        assert await asyncio.wait_for(cli.wait(), WAIT_S) == 0
        with a.client() as api:
            state = api.get(f"/v1/branches/{branch}/status").json()
    assert arrived - opened < RECHECK_S
    assert watch.statuses == ["running", "done"]
    assert watch.seqs == list(range(1, int(state["head_seq"]) + 1))


async def test_queued_announced_by_one_replica_reaches_a_client_on_another(
    shared: Shared,
) -> None:
    a, b = shared.a, shared.b
    shared.no_worker()  # a run started waits, "queued"
    with a.client() as api:
        branch = _scenario(api, 4)
    async with connect(_url(a, branch), proxy=None) as ws:
        watch = Watch(ws)
        await ws.recv()  # hello
        with b.client() as via_b:
            started = via_b.post(f"/v1/branches/{branch}/run")
        assert started.status_code == 202 and started.json()["status"] == "queued"
        await watch.until_status("queued")  # no row holds it: it came over the bus from B
        shared.cluster.worker()
        await watch.until_status("done")
    assert watch.statuses[0] == "queued" and watch.statuses[-1] == "done"
