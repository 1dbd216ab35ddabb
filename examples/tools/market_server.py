"""A small market-data MCP server (stdio) for the tools example: deterministic prices, so
runs and their replays agree. Run it with ``python examples/tools/market_server.py``; a
scenario starts it itself (``examples/market_tools.yaml``). ``--http PORT`` serves streamable
HTTP at ``http://127.0.0.1:PORT/mcp`` instead (``benchmarks/mcp_tools.py``)."""

from __future__ import annotations

import hashlib
import os

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("market")

SYMBOLS = {"ACME": "Acme Corp", "GLOBX": "Globex", "INIT": "Initech"}


def _count(name: str) -> None:
    # Tests count calls to check that a replay calls nothing.
    path = os.environ.get("MARKET_CALLS_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(name + "\n")


def _price(symbol: str, day: int) -> float:
    digest = hashlib.sha256(f"{symbol}:{day}".encode()).digest()
    return round(50.0 + int.from_bytes(digest[:4], "big") % 10_000 / 100.0, 2)


@server.tool()
def get_price(symbol: str, day: int = 0) -> float:
    """The closing price of a symbol on a day (0 = today)."""
    _count("get_price")
    if symbol not in SYMBOLS:
        raise ToolError(f"unknown symbol {symbol!r}; known: {', '.join(SYMBOLS)}")
    return _price(symbol, day)


@server.tool()
def history(symbol: str, days: int = 5) -> list[float]:
    """The closing prices of the last N days (N = days), oldest first."""
    _count("history")
    return [_price(symbol, -d) for d in range(max(1, min(days, 30)) - 1, -1, -1)]


@server.tool()
def symbols() -> dict[str, str]:
    """The symbols this market lists, with company names."""
    _count("symbols")
    return dict(SYMBOLS)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="the market-data stub over stdio (default)")
    parser.add_argument("--http", type=int, metavar="PORT", help="serve streamable HTTP instead")
    args = parser.parse_args()
    if args.http:  # reach it at http://127.0.0.1:PORT/mcp
        server.run("streamable-http", host="127.0.0.1", port=args.http)
    else:
        server.run()
