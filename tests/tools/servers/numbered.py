"""A test MCP server (stdio): tools ``t0``..``t<N-1>`` answering who they are. Every call is
counted as a line in the file named by ``$COUNT_FILE`` (so a test can assert that a replay
called nothing). ``--extras`` adds ``secret`` (echoes ``$TOKEN``), ``big`` (a long text) and
``grow`` (adds a tool and announces the changed list)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context


def count(name: str) -> None:
    path = os.environ.get("COUNT_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(name + "\n")


def numbered(server: str, tool: str) -> Callable[..., dict[str, Any]]:
    def answer(x: int = 0) -> dict[str, Any]:
        count(f"{server}.{tool}")
        return {"server": server, "tool": tool, "x": x}

    return answer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", default="numbered")
    parser.add_argument("--tools", type=int, default=10)
    parser.add_argument("--extras", action="store_true")
    args = parser.parse_args()
    server = MCPServer(args.name)
    for i in range(args.tools):
        server.add_tool(
            numbered(args.name, f"t{i}"), name=f"t{i}", description=f"Tool {i} of {args.name}"
        )
    if args.extras:

        @server.tool()
        def secret() -> str:
            """Says the token it was started with."""
            count(f"{args.name}.secret")
            return "token is " + os.environ.get("TOKEN", "")

        @server.tool()
        def big(n: int) -> str:
            """A text of n characters."""
            count(f"{args.name}.big")
            return "x" * n

        inflight = {"now": 0, "peak": 0}

        @server.tool()
        async def slow() -> int:
            """Takes 50 ms; returns the most calls it has seen in flight at once."""
            inflight["now"] += 1
            inflight["peak"] = max(inflight["peak"], inflight["now"])
            await anyio.sleep(0.05)
            inflight["now"] -= 1
            return inflight["peak"]

        @server.tool()
        async def grow(ctx: Context) -> str:
            """Adds tool 'added' and says the list changed."""
            count(f"{args.name}.grow")
            server.add_tool(numbered(args.name, "added"), name="added", description="Added")
            await ctx.notify_tools_changed()
            return "grown"

    server.run()


if __name__ == "__main__":
    main()
