"""Is a TCP port free? ``aegntix serve`` binds its socket before it prints or writes anything;
``make run`` asks here first (``python -m aegntix.ports HOST PORT HINT``) so a second
``make run`` fails with one line instead of greeting the server already on the port."""

from __future__ import annotations

import errno
import socket
import sys

from aegntix.errors import InvalidRequest, PortInUse

#: How far past a taken port to look for a free one to suggest.
_SUGGEST_SPAN = 20


def _socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (``SO_REUSEADDR``, as uvicorn binds); OSError if not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InvalidRequest(f"--host: cannot listen on '{host}' ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def bind(host: str, port: int, *, hint: str = "aegntix serve --port {port}") -> socket.socket:
    """A socket bound to ``host:port``, not yet listening. A taken port raises
    :class:`PortInUse`, its message suggesting a free port through ``hint`` (``{port}``)."""
    try:
        return _socket(host, port)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise PortInUse(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    free = next_free(host, port)
    then = f" — {hint.format(port=free)}" if free is not None else ""
    raise PortInUse(f"port {port} is in use{then}")


def next_free(host: str, port: int) -> int | None:
    """The first free port after ``port`` (within a few), or None."""
    for candidate in range(port + 1, min(port + 1 + _SUGGEST_SPAN, 65536)):
        try:
            _socket(host, candidate).close()
        except OSError:
            continue
        return candidate
    return None


def main(argv: list[str]) -> int:
    """``HOST PORT [HINT]``: exit 0 if the port is free, else one line on stderr and 1."""
    if len(argv) not in (2, 3) or not argv[1].isdigit():
        print("usage: python -m aegntix.ports HOST PORT [HINT with {port}]", file=sys.stderr)
        return 2
    try:
        bind(argv[0], int(argv[1]), **({"hint": argv[2]} if len(argv) == 3 else {})).close()
    except (PortInUse, InvalidRequest) as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
