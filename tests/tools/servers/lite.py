"""A stdlib-only MCP server over stdio (the 2025-06-18 handshake protocol): tools
``t0``..``t<N-1>`` answering who they are, counted into ``$COUNT_FILE``. It starts in
milliseconds where an SDK server takes a second of CPU importing ``mcp``, so the test of
20 servers × 10 tools stays fast on 2 cores; ``numbered.py`` is the SDK-built twin."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", default="lite")
    parser.add_argument("--tools", type=int, default=10)
    parser.add_argument("--grow", action="store_true", help="a tool 'grow' adds tool 'added'")
    args = parser.parse_args()
    tools = [
        {
            "name": f"t{i}",
            "description": f"Tool {i} of {args.name}",
            "inputSchema": {"type": "object", "properties": {"x": {"type": "integer"}}},
        }
        for i in range(args.tools)
    ]
    if args.grow:
        tools.append({"name": "grow", "inputSchema": {"type": "object"}})
        tools.append({"name": "echo", "inputSchema": {"type": "object"}})
    count = os.environ.get("COUNT_FILE")
    for line in sys.stdin:
        message = json.loads(line)
        method, ident = message.get("method"), message.get("id")
        if ident is None:
            continue  # a notification
        result: Any
        if method == "initialize":
            result = {
                "protocolVersion": "2025-06-18",
                "capabilities": {"tools": {"listChanged": args.grow}},
                "serverInfo": {"name": args.name, "version": "1"},
            }
        elif method == "ping":
            result = {}
        elif method == "tools/list":
            result = {"tools": tools}
        elif method == "tools/call":
            params = message.get("params") or {}
            tool = params.get("name")
            if count:
                with open(count, "a", encoding="utf-8") as f:
                    f.write(f"{args.name}.{tool}\n")
            if tool == "grow":  # the list changes, and the client is told (handshake-era way)
                tools.append({"name": "added", "inputSchema": {"type": "object"}})
                changed = {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}
                print(json.dumps(changed), flush=True)
            if tool == "echo":  # says back what it was given, as text
                text = str((params.get("arguments") or {}).get("text", ""))
                result = {"content": [{"type": "text", "text": text}], "isError": False}
                print(json.dumps({"jsonrpc": "2.0", "id": ident, "result": result}), flush=True)
                continue
            x = (params.get("arguments") or {}).get("x", 0)
            data = {"server": args.name, "tool": tool, "x": x}
            result = {
                "content": [{"type": "text", "text": json.dumps(data)}],
                "structuredContent": data,
                "isError": False,
            }
        else:
            error = {"code": -32601, "message": f"no method {method}"}
            print(json.dumps({"jsonrpc": "2.0", "id": ident, "error": error}), flush=True)
            continue
        print(json.dumps({"jsonrpc": "2.0", "id": ident, "result": result}), flush=True)


if __name__ == "__main__":
    main()
