"""``live_server``: the app served by uvicorn on a loopback port, in a background thread.

Shared by the REST and WebSocket tests, on both backends (SQLite and PostgreSQL). Real
HTTP: requests cross a socket, uvicorn's protocol stack and the lifespan, as in production.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from aegntix.security.keys import create_key
from aegntix.security.roles import Role
from aegntix.server.app import create_app
from aegntix.server.wsproto import ws_protocol
from aegntix.timeline import SqlStore, open_store

from ..postgres import SessionDatabase


@dataclass
class LiveServer:
    base_url: str
    store: SqlStore
    owner_key: str
    app: FastAPI
    key_file: Path
    _keys: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def ws_url(self) -> str:
        return "ws" + self.base_url.removeprefix("http")

    def make_key(self, tenant: str, role: Role | str) -> str:
        """A key of ``tenant`` with ``role`` (minted once per pair, then reused)."""
        wanted = (tenant, Role(role).value)
        if wanted not in self._keys:
            self._keys[wanted] = create_key(self.store, tenant, Role(role), "test")[1]
        return self._keys[wanted]

    def client(self, key: str | None = None, **kw: object) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30, **kw)  # type: ignore[arg-type]


def _serve(app: FastAPI) -> tuple[uvicorn.Server, threading.Thread, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="on",
        ws_ping_interval=None,
        ws=ws_protocol(),  # as `aegntix serve`
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    return server, thread, port


@contextmanager
def serving(
    folder: Path, wrap: Callable[[SqlStore], Any] = lambda s: s, *, db: str | None = None
) -> Iterator[LiveServer]:
    """The real app on a loopback port with a fresh store in ``folder`` (or at ``db``, a
    PostgreSQL URL); ``wrap`` lets a test hand the app a decorated store (the browser test
    slows appends with it)."""
    store = open_store(db or folder / "server.db")
    key_file = folder / "owner.key"
    app = create_app(wrap(store), bootstrap=True, key_file=key_file)
    owner_key = app.state.bootstrap_key
    assert owner_key is not None
    server, thread, port = _serve(app)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", store, owner_key, app, key_file)
    finally:
        server.should_exit = True
        thread.join(15)
        store.close()


BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", params=BACKENDS)
def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One server per backend for the session: on a SQLite file, and on a fresh schema of
    this session's PostgreSQL database. Every test taking it runs on both."""
    db = None
    if request.param == "postgresql":
        pg: SessionDatabase = request.getfixturevalue("pg_database")
        db = pg.new_url()
    with serving(tmp_path_factory.mktemp(f"live-{request.param}"), db=db) as server:
        assert server.store.engine.dialect.name == request.param
        yield server
