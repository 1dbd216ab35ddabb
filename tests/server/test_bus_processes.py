"""Across processes: ``aegntix serve --bus URL`` and an ``aegntix continue`` in another
process on the same SQLite file, with the Redis and the PostgreSQL bus. The WebSocket client
connected before the run started gets every event the other process wrote, live, exactly
once and in order; status reads the other process's lease. Needs Redis at 127.0.0.1:6379
and PostgreSQL at 127.0.0.1:5432 (database ``test``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from aegntix.timeline.bus import open_bus
from tests.server.api_support import example_text

REDIS_URL = "redis://127.0.0.1:6379/0"
PG_URL = "postgresql://127.0.0.1:5432/test"


@dataclass
class ServeProcess:
    base_url: str
    key: str
    db: Path
    bus_url: str

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {self.key}"}, timeout=30
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=[REDIS_URL, PG_URL], ids=["redis", "postgresql"])
def bus_url(request: pytest.FixtureRequest) -> str:
    url = str(request.param)
    try:
        open_bus(url).close()
    except Exception as exc:
        pytest.fail(f"the bus at {url} is needed: {exc}", pytrace=False)
    return url


@pytest.fixture
def serve(tmp_path: Path, bus_url: str) -> Iterator[ServeProcess]:
    db, key_file, port = tmp_path / "shared.db", tmp_path / "owner.key", _free_port()
    args = ["serve", "--db", str(db), "--port", str(port), "--key-file", str(key_file)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "aegntix", *args, "--bus", bus_url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else "serve exited"
            try:
                if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "aegntix serve did not start"
            time.sleep(0.1)
        yield ServeProcess(base, key_file.read_text().strip(), db, bus_url)
    finally:
        proc.terminate()
        proc.wait(30)


async def _collect(
    url: str, started: asyncio.Event, until_seq: asyncio.Future[int]
) -> tuple[dict[str, object], list[int]]:
    """The hello, then the seqs of every event until ``until_seq`` (once known) arrived."""
    seqs: list[int] = []
    async with connect(url) as ws:
        hello = json.loads(await ws.recv())
        started.set()
        while not (until_seq.done() and seqs and seqs[-1] >= until_seq.result()):
            try:
                message = json.loads(await asyncio.wait_for(ws.recv(), 1.0))
            except TimeoutError:
                continue
            if message["type"] == "event":
                seqs.append(message["event"]["seq"])
            elif message["type"] == "ping":
                await ws.send(json.dumps({"type": "pong"}))
    return hello, seqs


def test_a_cli_run_in_another_process_streams_live_to_a_websocket_client(
    serve: ServeProcess,
) -> None:
    with serve.client() as client:
        r = client.post(
            "/v1/scenarios",
            content=example_text("negotiation"),
            headers={"content-type": "application/yaml"},
        )
        assert r.status_code == 201, r.text
        branch_id = r.json()["root_branch"]["id"]
    url = f"ws://{serve.base_url.removeprefix('http://')}/v1/branches/{branch_id}/stream"
    url += f"?api_key={serve.key}"

    async def scenario() -> tuple[dict[str, object], list[int], int, list[dict[str, object]]]:
        started = asyncio.Event()
        final: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        reader = asyncio.create_task(_collect(url, started, final))
        await asyncio.wait_for(started.wait(), 30)
        env = {**os.environ, "AEGNTIX_BUS": serve.bus_url}
        cli = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "aegntix",
            "continue",
            branch_id,
            "--db",
            str(serve.db),
            "--json",
            env=env,
            stdout=asyncio.subprocess.PIPE,
        )
        statuses = []
        async with httpx.AsyncClient(
            base_url=serve.base_url, headers={"Authorization": f"Bearer {serve.key}"}
        ) as http:
            while cli.returncode is None:
                statuses.append((await http.get(f"/v1/branches/{branch_id}/status")).json())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(cli.wait(), 0.05)
            out, _ = await cli.communicate()
            assert cli.returncode == 0
            summary = json.loads(out.decode().strip().splitlines()[-1])
            head = (await http.get(f"/v1/branches/{branch_id}/status")).json()
        final.set_result(head["head_seq"])
        hello, seqs = await asyncio.wait_for(reader, 60)
        assert summary["type"] == "summary"
        assert not head["running"] and head["status"] == "done"
        return hello, seqs, head["head_seq"], statuses

    hello, seqs, head_seq, statuses = asyncio.run(scenario())
    start = int(str(hello["head_seq"]))
    assert head_seq > start  # the other process wrote events after the client connected
    assert seqs == list(range(1, head_seq + 1))  # backlog, then live: once each, in order
    for status in statuses:
        assert (status["status"] == "running") == status["running"], status
