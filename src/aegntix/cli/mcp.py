"""`aegntix mcp`: AegntiX as an MCP server on stdin/stdout, for a desktop assistant."""

from __future__ import annotations

from typing import Annotated

import anyio
import typer

from aegntix.cli.common import DbOption, handles_errors, opened
from aegntix.security.roles import Principal, Role
from aegntix.timeline.schema import DEFAULT_TENANT

#: The key id the local caller's principal carries (no API key is involved).
LOCAL_KEY_ID = "local"


@handles_errors
def mcp(
    db: DbOption = "aegntix.db",
    read_only: Annotated[
        bool,
        typer.Option(
            "--read-only",
            help="Only the reading tools work (as a viewer): the assistant can look, not run, "
            "fork or create.",
        ),
    ] = False,
) -> None:
    """Serve the AegntiX MCP tools on stdin/stdout (create scenarios, run, fork with an
    injection, rollouts, compare, events, state) as the local owner of tenant 'default',
    as `aegntix run` acts. Point a desktop assistant at it (docs/mcp-server.md). Nothing but
    the protocol goes to stdout; logs go to stderr."""
    from aegntix.server.app import create_app
    from aegntix.server.mcp import build_server, fixed_caller

    role = Role.VIEWER if read_only else Role.OWNER
    principal = Principal(tenant_id=DEFAULT_TENANT, role=role, key_id=LOCAL_KEY_ID)
    with opened(db, create=True) as store:
        # The API app without a socket: its lifespan runs the same runs and rollout tasks.
        app = create_app(store)
        server = build_server(app, fixed_caller(principal))

        async def serve() -> None:
            async with app.router.lifespan_context(app):
                await server.run_stdio_async()

        anyio.run(serve)
