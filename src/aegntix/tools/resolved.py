"""A declared server with its secrets filled in: what the router starts and keys servers by.

Secret values live only here, in memory, for the life of a run (and of the connection they
started); they are never written to the database, a log line or an error message.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass

from aegntix.brains.credentials import lookup
from aegntix.errors import ToolNotAllowed, ToolSecretMissing
from aegntix.model.tools import ServerSpec, ToolsConfig, secret_name


@dataclass(frozen=True, slots=True)
class ResolvedServer:
    """One server ready to start. ``key`` identifies it across runs (same spec, same
    secrets: one live server shared by every run of the process)."""

    name: str
    command: str | None
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    cwd: str | None
    url: str | None
    headers: tuple[tuple[str, str], ...]
    timeout_s: float
    start_timeout_s: float
    concurrency: int
    #: The resolved secret values, for redaction.
    secrets: tuple[str, ...]

    @property
    def key(self) -> str:
        body = json.dumps(
            [self.command, self.args, self.env, self.cwd, self.url, self.headers],
            sort_keys=True,
        )
        return hashlib.sha256(body.encode("utf-8")).hexdigest()

    @property
    def where(self) -> str:
        """How the server is reached, safe to show (no env, no headers)."""
        if self.url is not None:
            return self.url
        return " ".join([self.command or "", *self.args])


def _fill(values: dict[str, str], server: str, found: list[str]) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for key, value in sorted(values.items()):
        name = secret_name(value)
        if name is None:
            out.append((key, value))
            continue
        secret = lookup(name)
        if secret is None:
            raise ToolSecretMissing(
                f"tool server '{server}': secret {name} is not set (set ${name} in the "
                "environment or in the secrets file, see docs/tools.md)"
            )
        found.append(secret)
        out.append((key, secret))
    return tuple(out)


def resolve_server(name: str, spec: ServerSpec) -> ResolvedServer:
    """``spec`` with its ``secret:NAME`` values looked up; a missing one raises
    :class:`ToolSecretMissing` naming it (a command or URL this host does not permit,
    :class:`ToolNotAllowed`)."""
    check_permitted(name, spec)
    secrets: list[str] = []
    env = _fill(dict(spec.env), name, secrets)
    headers = _fill(dict(spec.headers), name, secrets)
    # "python" is the interpreter running AegntiX (the MCP SDK importable), not whatever
    # "python" the PATH finds first.
    command = sys.executable if spec.command in ("python", "python3") else spec.command
    return ResolvedServer(
        name=name,
        command=command,
        args=tuple(spec.args),
        env=env,
        cwd=spec.cwd,
        url=spec.url,
        headers=headers,
        timeout_s=spec.timeout_s,
        start_timeout_s=spec.start_timeout_s,
        concurrency=spec.concurrency,
        secrets=tuple(secrets),
    )


#: Which stdio commands scenarios may start: unset = any (a local install); ``none``; or a
#: comma-separated list of executables (``python,/usr/bin/node``). A server taking scenarios
#: from many users sets it: a command is code run on this host.
COMMANDS_ENV = "AEGNTIX_TOOL_COMMANDS"
#: Which URLs scenarios may reach: unset = any; ``none``; or comma-separated URL prefixes.
URLS_ENV = "AEGNTIX_TOOL_URLS"


def _allow_list(name: str) -> list[str] | None:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return None
    if value.strip().lower() == "none":
        return []
    return [v.strip() for v in value.split(",") if v.strip()]


def check_permitted(name: str, spec: ServerSpec) -> None:
    """Raise :class:`ToolNotAllowed` for a command or URL this host does not permit."""
    if spec.command is not None:
        allowed = _allow_list(COMMANDS_ENV)
        if allowed is not None and spec.command not in allowed:
            raise ToolNotAllowed(
                f"tool server '{name}': command '{spec.command}' is not permitted on this host "
                f"(${COMMANDS_ENV}: {', '.join(allowed) or 'none'})"
            )
    if spec.url is not None:
        prefixes = _allow_list(URLS_ENV)
        if prefixes is not None and not any(spec.url.startswith(p) for p in prefixes):
            raise ToolNotAllowed(
                f"tool server '{name}': URL {spec.url} is not permitted on this host (${URLS_ENV})"
            )


def resolve_all(config: ToolsConfig, names: set[str] | None = None) -> dict[str, ResolvedServer]:
    """Every declared server (or those in ``names``), resolved."""
    return {
        name: resolve_server(name, spec)
        for name, spec in config.servers.items()
        if names is None or name in names
    }
