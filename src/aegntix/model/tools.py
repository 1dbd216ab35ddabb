"""A scenario's ``tools:``: the MCP servers its agents may call, and who may call what.

Names are namespaced ``server.tool``; an agent's ``tools`` is a list of patterns (``*``,
``market.*``, ``market.get_price``). Secrets are references (``secret:NAME``) resolved when a
run starts (``aegntix.tools.secrets``), never stored in the spec or in events.
"""

from __future__ import annotations

import fnmatch
import re
from typing import TYPE_CHECKING, Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aegntix.model.text import SafeLine

if TYPE_CHECKING:
    from aegntix.model.checks import Found
    from aegntix.model.scenario import Scenario

#: A server's name in the scenario: the ``server`` of ``server.tool`` (no dots).
ServerName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")]
#: What MCP allows in a tool name (the part after the server's name may hold dots).
TOOL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_PATTERN = re.compile(r"^(\*|[A-Za-z][A-Za-z0-9_-]{0,63}\.[A-Za-z0-9_.*?-]{1,128})$")
SECRET_PREFIX = "secret:"
_SECRET = re.compile(r"^secret:([A-Za-z_][A-Za-z0-9_]{0,127})$")
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def secret_name(value: str) -> str | None:
    """``NAME`` of a ``secret:NAME`` reference; None for a literal value."""
    match = _SECRET.match(value)
    return match.group(1) if match else None


#: Names whose values are credentials: they must be ``secret:NAME`` references, never the
#: value itself (which would be stored with the scenario).
_SENSITIVE = re.compile(r"(?i)(authorization|token|secret|password|passwd|api[-_]?key|credential)")


def _check_refs(values: dict[str, str], what: str) -> dict[str, str]:
    for key, value in values.items():
        if value.startswith(SECRET_PREFIX) and secret_name(value) is None:
            raise ValueError(
                f"{what} '{key}': a secret reference is 'secret:NAME' (NAME a variable name)"
            )
        if _SENSITIVE.search(key) and secret_name(value) is None:
            # The message never repeats the value: it is likely a credential.
            raise ValueError(
                f"{what} '{key}' holds a credential: write 'secret:NAME' and put the value "
                "in the environment or the secrets file (docs/tools.md)"
            )
    return values


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ServerSpec(_Strict):
    """One MCP server: a command to start (stdio) or a URL (streamable HTTP), not both."""

    command: SafeLine | None = Field(default=None, min_length=1, max_length=1000)
    args: list[Annotated[SafeLine, Field(max_length=4000)]] = Field(
        default_factory=list, max_length=200
    )
    #: Extra environment of a stdio server (it inherits only PATH and a few others).
    env: dict[str, Annotated[SafeLine, Field(max_length=4000)]] = Field(
        default_factory=dict, max_length=200
    )
    cwd: SafeLine | None = Field(default=None, max_length=1000)
    url: SafeLine | None = Field(default=None, max_length=2000, pattern=r"^https?://\S+$")
    headers: dict[str, Annotated[SafeLine, Field(max_length=4000)]] = Field(
        default_factory=dict, max_length=100
    )
    #: Seconds a call may take before it is recorded as a timeout.
    timeout_s: float = Field(default=30.0, gt=0.0, le=3600.0)
    #: Seconds the server may take to start and list its tools.
    start_timeout_s: float = Field(default=20.0, gt=0.0, le=600.0)
    #: Calls in flight to this server at most.
    concurrency: int = Field(default=4, ge=1, le=1000)

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not _ENV_KEY.match(key):
                raise ValueError(f"'{key}' is not an environment variable name")
        return _check_refs(value, "env")

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_refs(value, "header")

    @model_validator(mode="after")
    def _one_transport(self) -> Self:
        if (self.command is None) == (self.url is None):
            raise ValueError("set either 'command' (a stdio server) or 'url', not both/neither")
        if self.url is not None and (self.args or self.env or self.cwd):
            raise ValueError("'args', 'env' and 'cwd' are for a 'command' server, not a 'url'")
        if self.command is not None and self.headers:
            raise ValueError("'headers' are for a 'url' server, not a 'command'")
        return self

    def secrets(self) -> list[str]:
        """The names of the secrets this server needs, in order."""
        values = [*self.env.values(), *self.headers.values()]
        return [n for n in (secret_name(v) for v in values) if n is not None]


class ToolsConfig(_Strict):
    """``tools:`` of a scenario."""

    servers: dict[ServerName, ServerSpec] = Field(min_length=1, max_length=200)
    #: A result longer than this (as JSON text) is cut and marked ``truncated``.
    max_result_chars: int = Field(default=4000, ge=16, le=1_000_000)
    #: The allow-list of an agent that sets none.
    default_allow: list[str] = Field(default_factory=lambda: ["*"], max_length=500)


AllowList = Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=500)]


def allowed(patterns: list[str], name: str) -> bool:
    """Whether namespaced tool ``name`` matches one of ``patterns``."""
    return any(p == "*" or fnmatch.fnmatchcase(name, p) for p in patterns)


def allow_list(scenario: Scenario, agent_id: str) -> list[str]:
    """The patterns of the tools ``agent_id`` may call (none without ``tools:``)."""
    if scenario.tools is None:
        return []
    own = scenario.agent(agent_id).tools
    return list(own) if own is not None else list(scenario.tools.default_allow)


def exact_names(patterns: list[str]) -> list[str]:
    """The patterns that name one tool (no wildcard): each must be listed by its server."""
    return [p for p in patterns if p != "*" and not any(c in p for c in "*?[")]


def tools_problems(scenario: Scenario) -> Found:
    """Allow patterns and tool-bound actions checked against the declared servers."""
    found: Found = []
    servers = set(scenario.tools.servers) if scenario.tools is not None else set()
    known = ", ".join(sorted(servers)) or "none declared under 'tools:'"

    def check(loc: tuple[str | int, ...], pattern: str) -> None:
        if not _PATTERN.match(pattern):
            found.append((loc, f"'{pattern}' is not '*', 'server.*' or 'server.tool'"))
        elif pattern != "*" and pattern.partition(".")[0] not in servers:
            found.append((loc, f"unknown tool server in '{pattern}' (servers: {known})"))

    if scenario.tools is not None:
        for j, pattern in enumerate(scenario.tools.default_allow):
            check(("tools", "default_allow", j), pattern)
    for i, agent in enumerate(scenario.agents):
        for j, pattern in enumerate(agent.tools or ()):
            check(("agents", i, "tools", j), pattern)
    for name, action in scenario.actions.items():
        if action.tool is None:
            continue
        loc: tuple[str | int, ...] = ("actions", name, "tool")
        before = len(found)
        check(loc, action.tool)
        if len(found) == before and (action.tool == "*" or "*" in action.tool):
            found.append((loc, "an action calls one tool: name it 'server.tool'"))
        if action.into is not None and action.into not in scenario.world:
            found.append((("actions", name, "into"), f"'{action.into}' is not a world key"))
        for i, agent in enumerate(scenario.agents):
            if name in agent.actions and not allowed(allow_list(scenario, agent.id), action.tool):
                found.append(
                    (
                        ("agents", i, "actions"),
                        f"action '{name}' calls {action.tool}, which agent '{agent.id}' "
                        "may not use (its tools allow-list)",
                    )
                )
    for name, action in scenario.actions.items():
        if action.tool is None and (action.arguments or action.into is not None):
            found.append((("actions", name), "'arguments' and 'into' need a 'tool'"))
    return found


def argument_expression(value: Any) -> str | None:
    """The expression of a tool-bound action's argument written ``"=expr"`` (evaluated over
    the world when the action is taken); None for a literal (``"==x"`` is the text ``=x``)."""
    if isinstance(value, str) and value.startswith("=") and not value.startswith("=="):
        return value[1:]
    return None


def literal_argument(value: Any) -> Any:
    """A literal argument as the tool gets it (``"==x"`` unescaped to ``"=x"``)."""
    return value[1:] if isinstance(value, str) and value.startswith("==") else value
