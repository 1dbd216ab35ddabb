"""A database that cannot answer now (locked SQLite file, unreachable PostgreSQL) answers
503 problem-details with ``Retry-After`` on read paths, never 500; invalid requests name
their ``field``."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from aegntix.errors import (
    BranchBusy,
    Conflict,
    ProviderError,
    ProviderUnavailable,
    StoreError,
    StoreUnavailable,
    is_transient,
)
from aegntix.server.problems import from_error
from tests.server.api_support import assert_problem, create, run_to_end
from tests.server.conftest import LiveServer, serving

from ..postgres import SessionDatabase

#: Holds every WAL read-mark lock of ``<db>-shm`` (bytes 120..127, SQLite's shm lock
#: area) from another process, as a stuck reader or a backup tool could: no new read can
#: start until it lets go.
_LOCKER = """
import fcntl, sys, time
shm = open(sys.argv[1], "a+b")  # created if no connection is open
for _ in range(1000):  # a read in progress holds a mark for a moment: wait for it
    try:
        fcntl.lockf(shm, fcntl.LOCK_EX | fcntl.LOCK_NB, 8, 120)
        break
    except BlockingIOError:
        time.sleep(0.02)
else:
    sys.exit("a reader kept its mark for 20 s")
print("locked", flush=True)
sys.stdin.read()
"""


@contextmanager
def wal_locked(db: Path) -> Iterator[None]:
    locker = subprocess.Popen(
        [sys.executable, "-c", _LOCKER, f"{db}-shm"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        yield
    finally:
        assert locker.stdin is not None
        locker.stdin.close()
        locker.wait(10)


def test_a_locked_sqlite_file_answers_503_on_a_read_and_recovers(tmp_path: Path) -> None:
    with serving(tmp_path) as server, server.client(server.owner_key) as client:
        scenario = create(client)["scenario"]
        with wal_locked(tmp_path / "server.db"):
            body = assert_problem(client.get(f"/v1/scenarios/{scenario['id']}"), 503)
            assert body["type"].endswith("/store-busy")
            assert "locking protocol" in body["detail"] and "SELECT" not in body["detail"]
            assert client.get("/v1/scenarios").headers.get("retry-after") is not None
        assert client.get(f"/v1/scenarios/{scenario['id']}").status_code == 200


async def test_a_rollout_stream_whose_store_cannot_answer_closes_1013(tmp_path: Path) -> None:
    """As a branch's stream does: 1013 (reconnect later), not an unexplained 1011."""
    with serving(tmp_path) as server, server.client(server.owner_key) as client:
        root = create(client, "town-hall")["root_branch"]["id"]
        await asyncio.to_thread(run_to_end, client, root, 2)
        made = client.post(f"/v1/branches/{root}/rollouts", json={"at_step": 1, "n": 1})
        assert made.status_code == 202, made.text
        set_id = made.json()["id"]
        deadline = time.monotonic() + 120  # settled: no reader of the set's own holds a mark
        while client.get(f"/v1/rollouts/{set_id}").json()["running"]:
            assert time.monotonic() < deadline, "the set never settled"
            await asyncio.sleep(0.1)
        url = f"{server.ws_url}/v1/rollouts/{set_id}/stream?api_key={server.owner_key}"
        with wal_locked(tmp_path / "server.db"):
            async with connect(url, proxy=None) as ws:
                with pytest.raises(ConnectionClosed) as closed:
                    async with asyncio.timeout(60):
                        while True:
                            await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1013 and "reconnect" in closed.value.rcvd.reason


class Forwarder:
    """A TCP forwarder on loopback to ``target``; :meth:`stop` makes the server behind it
    unreachable (listener closed, every connection cut), as a stopped server would be."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with suppress(OSError):
            while True:
                client, _ = self.listener.accept()
                upstream = socket.create_connection(self.target)
                self.sockets += [client, upstream]
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def stop(self) -> None:
        with suppress(OSError):  # wakes the blocked accept(); close alone would not
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for sock in self.sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def test_an_unreachable_postgresql_answers_503(
    pg_database: SessionDatabase, tmp_path: Path
) -> None:
    url = urlsplit(pg_database.new_url())
    forwarder = Forwarder((url.hostname or "127.0.0.1", url.port or 5432))
    user = url.netloc.rsplit("@", 1)[0]
    via = urlunsplit(url._replace(netloc=f"{user}@127.0.0.1:{forwarder.port}"))
    with serving(tmp_path, db=via) as server, server.client(server.owner_key) as client:
        root = create(client)["root_branch"]["id"]
        forwarder.stop()
        for path in ("/v1/scenarios", f"/v1/branches/{root}/events"):
            body = assert_problem(client.get(path), 503)
            assert body["type"].endswith("/store-busy"), body
            assert "password" not in body["detail"] and "SELECT" not in body["detail"]
        assert client.get("/v1/scenarios").headers["retry-after"] == "1"


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("post", "/v1/branches/{branch}/fork", {"at_step": 0, "seed": -1}, "seed"),
        ("post", "/v1/branches/{branch}/inject", {"content": ""}, "content"),
        (
            "post",
            "/v1/branches/{branch}/inject",
            {"content": "x", "targets": ["nobody"]},
            "targets",
        ),
    ],
)
def test_invalid_requests_name_their_field(
    live_server: LiveServer, method: str, path: str, body: dict[str, object], field: str
) -> None:
    with live_server.client(live_server.owner_key) as client:
        branch = create(client)["root_branch"]["id"]
        r = client.request(method.upper(), path.format(branch=branch), json=body)
        problem = assert_problem(r, 422)
        assert [e["field"] for e in problem["errors"]][:1] == [field], problem
        assert all(e["reason"] for e in problem["errors"])


def test_only_transient_errors_say_when_to_retry() -> None:
    cases = {
        BranchBusy("another runner has it"): (409, "1"),
        ProviderUnavailable("timed out after 4 attempts"): (503, "5"),
        StoreUnavailable("database is locked"): (503, "1"),
        Conflict("profile id in use"): (409, None),
        StoreError("file is not a database"): (503, None),
        ProviderError("no API key"): (502, None),
    }
    for error, (status, retry_after) in cases.items():
        response = from_error(error)
        assert response.status_code == status, error
        assert response.headers.get("retry-after") == retry_after, error
        assert is_transient(error) is (retry_after is not None)
