"""A test MCP server (stdio) that misbehaves: ``--mode never`` exits before serving;
``--mode malformed`` answers every call with a result that is not a tool result; the
default serves ``ok``, ``hang`` (never returns) and ``die`` (the process exits mid-call)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any


def serve() -> None:
    import anyio  # here, not at the top: the other modes start in milliseconds
    from mcp.server import MCPServer

    server = MCPServer("faulty")

    @server.tool()
    def ok(x: int = 0) -> dict[str, Any]:
        """Answers."""
        return {"ok": x}

    @server.tool()
    async def hang() -> str:
        """Never returns."""
        await anyio.sleep(3600)
        return "late"

    @server.tool()
    def die() -> str:
        """Exits the process mid-call."""
        os._exit(1)

    server.run()


def malformed() -> None:
    """A hand-written handshake-era server: lists one tool, answers calls with junk."""
    for line in sys.stdin:
        message = json.loads(line)
        method, ident = message.get("method"), message.get("id")
        if ident is None:
            continue  # a notification
        if method == "initialize":
            result: Any = {
                "protocolVersion": "2025-06-18",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "malformed", "version": "1"},
            }
        elif method == "tools/list":
            result = {"tools": [{"name": "junk", "inputSchema": {"type": "object"}}]}
        elif method == "tools/call":
            result = {"content": "not a list of blocks", "isError": "perhaps"}
        else:
            reply = {"jsonrpc": "2.0", "id": ident, "error": {"code": -32601, "message": "no"}}
            print(json.dumps(reply), flush=True)
            continue
        print(json.dumps({"jsonrpc": "2.0", "id": ident, "result": result}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="serve", choices=["serve", "never", "malformed"])
    mode = parser.parse_args().mode
    if mode == "never":
        print("faulty: refusing to start (no configuration)", file=sys.stderr)
        sys.exit(3)
    malformed() if mode == "malformed" else serve()


if __name__ == "__main__":
    main()
