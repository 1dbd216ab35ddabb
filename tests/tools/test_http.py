"""A server reached by URL (streamable HTTP on loopback): its auth header from a secret,
redacted from results; the server dying mid-call is an error, and once it is back the
router reconnects."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from aegntix.tools.base import Backoff
from aegntix.tools.router import ToolRouter

from .helpers import SERVERS, scenario

SECRET = "Bearer s3cr3t-http-7781"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(port: int, *more: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(SERVERS / "http_server.py"), "--port", str(port), *more],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


async def standing_by(standby: subprocess.Popen[bytes]) -> bytes:
    """The standby's first line, once it has imported everything and waits for the port."""
    assert standby.stdout is not None
    return await asyncio.wait_for(asyncio.to_thread(standby.stdout.readline), 60)


@pytest.fixture
def port() -> Iterator[int]:
    yield free_port()


async def test_http_server_auth_death_and_reconnect(
    port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_AUTH", SECRET)
    url = f"http://127.0.0.1:{port}/mcp"
    spec = scenario(
        {"web": {"url": url, "headers": {"Authorization": "secret:HTTP_AUTH"}, "timeout_s": 5}}
    )
    process = start(port)
    standby: subprocess.Popen[bytes] | None = None
    # the router retries a server not listening yet, with backoff
    router = ToolRouter(Backoff(first=0.1, most=0.2, attempts=200))
    try:
        tools = router.for_run(spec)
        await tools.prepare()
        conn = tools.servers["web"]
        assert await conn.wait_up(20), conn.last_error
        standby = start(port, "--standby")  # takes over the port when the first one dies
        assert await standing_by(standby) == b"standing by\n"
        said = await tools.call("a", 1, "web.auth", {})
        assert said.result == {"result": "auth: [redacted]"}

        died = await tools.call("a", 1, "web.die", {})
        assert died.error is not None and not died.ok
        process.wait(10)

        # the standby takes the port: the router reconnects by itself
        assert await conn.wait_up(20), conn.last_error
        back = await tools.call("a", 2, "web.ok", {"x": 2})
        assert back.result == {"ok": 2}
        assert conn.restarts >= 1
        assert SECRET not in repr(router.status())
    finally:
        await router.aclose()
        for p in (process, standby):
            if p is not None:
                p.terminate()
                p.wait(10)
