"""Who may read the metrics, and serving them on a port for a process without an HTTP API.

The rule, the same for the API's ``/metrics`` and :func:`serve_metrics`: when
``AEGNTIX_METRICS_TOKEN`` is set, a scrape must send ``Authorization: Bearer <token>``
(Prometheus: ``authorization: {credentials_file: ...}``); when it is not set, only loopback
clients may read (``curl 127.0.0.1:8000/metrics`` on the machine itself). Metrics carry no
tenant data, but they do show volumes and timings of everyone's work, so they are never
public by default.
"""

from __future__ import annotations

import errno
import hmac
import ipaddress
import os
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from aegntix.errors import InvalidRequest, PortInUse
from aegntix.observability.metrics import REGISTRY

TOKEN_ENV = "AEGNTIX_METRICS_TOKEN"
#: ``aegntix --metrics-port`` / ``--metrics-host``: any command serves its metrics.
PORT_ENV = "AEGNTIX_METRICS_PORT"
HOST_ENV = "AEGNTIX_METRICS_HOST"


def metrics_token() -> str | None:
    """The scrape token from ``AEGNTIX_METRICS_TOKEN`` (None when unset or blank)."""
    value = os.environ.get(TOKEN_ENV, "").strip()
    return value or None


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return host == "localhost"


def may_scrape(authorization: str | None, peer: str | None, token: str | None) -> bool:
    """Whether a request with this ``Authorization`` header from ``peer`` may read."""
    if token is None:
        return is_loopback(peer)
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


DENIED_LOOPBACK = (
    "metrics are readable from this machine only; set AEGNTIX_METRICS_TOKEN to scrape "
    "from elsewhere (Authorization: Bearer <token>)"
)
DENIED_TOKEN = "metrics need 'Authorization: Bearer <AEGNTIX_METRICS_TOKEN>'"


def denial(token: str | None) -> tuple[int, str]:
    """The status and reason for a refused scrape."""
    return (403, DENIED_LOOPBACK) if token is None else (401, DENIED_TOKEN)


_StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def _guarded(app: Callable[..., Iterable[bytes]], token: str | None) -> Callable[..., Any]:
    def guarded(environ: dict[str, Any], start_response: _StartResponse) -> Iterable[bytes]:
        if may_scrape(environ.get("HTTP_AUTHORIZATION"), environ.get("REMOTE_ADDR"), token):
            return app(environ, start_response)
        status, reason = denial(token)
        phrase = "Unauthorized" if status == 401 else "Forbidden"
        headers = [("Content-Type", "text/plain; charset=utf-8")]
        if status == 401:
            headers.append(("WWW-Authenticate", 'Bearer realm="aegntix-metrics"'))
        start_response(f"{status} {phrase}", headers)
        return [reason.encode() + b"\n"]

    return guarded


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds would flood stderr; the server logs nothing."""


@dataclass
class MetricsServer:
    """A running metrics endpoint (a daemon thread); :meth:`close` stops it."""

    host: str
    port: int
    _server: ThreadingWSGIServer
    _thread: threading.Thread

    @property
    def url(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def serve_metrics(port: int, host: str = "127.0.0.1", *, token: str | None = None) -> MetricsServer:
    """Serve this process's metrics at ``http://host:port/metrics`` from a daemon thread
    (for processes without the API: workers). ``token`` defaults to
    ``AEGNTIX_METRICS_TOKEN``; without one only loopback clients may read. Port 0 picks a
    free port (see :attr:`MetricsServer.port`). A taken port raises :class:`PortInUse`."""
    if not 0 <= port <= 65535:
        raise InvalidRequest(f"--metrics-port: {port} is not a TCP port (0-65535)")
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as exc:
        reason = f"cannot listen on '{host}' ({exc.strerror})"
        raise InvalidRequest(f"--metrics-host: {reason}") from None

    class Server(ThreadingWSGIServer):
        address_family = family

    app = _guarded(make_wsgi_app(REGISTRY), token if token is not None else metrics_token())
    try:
        server = make_server(host, port, app, Server, handler_class=_Quiet)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(f"metrics port {port} is in use (--metrics-port)") from None
        raise PortInUse(f"cannot serve metrics on {host}:{port} ({exc.strerror})") from None
    thread = threading.Thread(target=server.serve_forever, name="aegntix-metrics", daemon=True)
    thread.start()
    return MetricsServer(host, int(server.server_address[1]), server, thread)
