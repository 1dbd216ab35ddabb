"""Tools for agents: MCP servers declared by a scenario, called through a router, every call
and result recorded so replays call nothing (DESIGN §2, invariant 4)."""

from aegntix.tools.base import AgentTools, ToolCaller, ToolInfo, ToolOutcome

__all__ = ["AgentTools", "ToolCaller", "ToolInfo", "ToolOutcome"]
