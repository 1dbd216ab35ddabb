"""A test MCP server over streamable HTTP on loopback: ``ok``, ``auth`` (says the
Authorization header it got) and ``die`` (the process exits mid-call)."""

from __future__ import annotations

import argparse
import os
import socket
import time
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--standby", action="store_true", help="wait for the port to be free")
    args = parser.parse_args()
    port = args.port
    server = MCPServer("http-test")

    @server.tool()
    def ok(x: int = 0) -> dict[str, Any]:
        """Answers."""
        return {"ok": x}

    @server.tool()
    def auth(ctx: Context) -> str:
        """The Authorization header of the request."""
        return "auth: " + str((ctx.headers or {}).get("authorization"))

    @server.tool()
    def die() -> str:
        """Exits the process mid-call."""
        os._exit(1)

    # A standby (started once the first server holds the port) imports everything first,
    # says so on stdout, then takes the port once its holder is gone: the replacement is up
    # milliseconds after the first one dies, however slow imports are on a loaded machine.
    if args.standby:
        print("standing by", flush=True)
        while not _free(port):
            time.sleep(0.02)
    server.run("streamable-http", host="127.0.0.1", port=port)


def _free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


if __name__ == "__main__":
    main()
