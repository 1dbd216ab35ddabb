"""One live MCP server: started on demand, its tool list cached (refreshed when the server
says it changed), calls bounded by a timeout and a concurrency limit, restarted with
exponential backoff when it dies. A call never raises for the server's faults: it returns
an error reason instead.

One owner task per connection enters the SDK client (``mcp.Client``) and leaves it: the SDK's
transports are anyio context managers that must be exited by the task that entered them.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import tempfile
import time
import warnings
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TextIO, cast

import anyio
import httpx2
from mcp import Client, MCPDeprecationWarning, MCPError, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT, CallToolResult, Tool
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from aegntix.tools.base import Backoff
from aegntix.tools.resolved import ResolvedServer
from aegntix.tools.results import redact, short

#: How long the SDK may take to stop a stdio server (close stdin, grace, kill, reap).
_SHUTDOWN_S = 10.0


class Status(StrEnum):
    IDLE = "idle"  # never started
    STARTING = "starting"
    UP = "up"
    DOWN = "down"  # died or could not start; a restart may be scheduled
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Called:
    """A call's raw outcome: the SDK result, or an error reason."""

    result: CallToolResult | None
    error: str | None
    latency_ms: float


class Connection:
    """One server of one process (shared by every run that declares the same server)."""

    def __init__(self, server: ResolvedServer, backoff: Backoff | None = None) -> None:
        self.server = server
        self.tenant_id = "default"
        self.backoff = backoff or Backoff()
        self.status = Status.IDLE
        self.last_error: str | None = None
        #: Starts after the first (after a crash or a failed start).
        self.restarts = 0
        self.failures = 0  # in a row
        self.tools: dict[str, Tool] = {}
        self.protocol: str | None = None
        self._started = 0
        self._client: Client | None = None
        self._slots = asyncio.Semaphore(server.concurrency)
        self._changed = asyncio.Event()  # set whenever status leaves STARTING
        self._stop = asyncio.Event()
        self._dead = asyncio.Event()
        self._stale = asyncio.Event()
        self._up = asyncio.Event()
        #: Set after each refresh of the tool list (a test clears it and waits).
        self.refreshed = asyncio.Event()
        self._owner: asyncio.Task[None] | None = None
        self._restart: asyncio.Task[None] | None = None
        self._retry_at = 0.0
        self._stderr: TextIO | None = None
        self._scope: anyio.CancelScope | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the server unless it is starting, up or closed."""
        if self.status in (Status.STARTING, Status.UP, Status.CLOSED):
            return
        if self._started:
            self.restarts += 1
        self._started += 1
        self.status = Status.STARTING
        self._changed.clear()
        self._dead.clear()
        self._owner = asyncio.get_running_loop().create_task(
            self._run(), name=f"mcp:{self.server.name}"
        )

    async def ensure(self, timeout: float | None = None) -> bool:
        """Up (starting it if it may be started now, waiting at most ``timeout``)?"""
        if self.up:
            return True
        if self.status in (Status.IDLE, Status.DOWN) and time.monotonic() >= self._retry_at:
            self.start()
        if self.status is Status.STARTING:
            # Until the attempt is over, clean-up included: a start that timed out still
            # stops its process (a few seconds' grace), and a loop ending in that window
            # would orphan it. The start itself is bounded by ``start_timeout_s``.
            limit = self.server.start_timeout_s + _SHUTDOWN_S if timeout is None else timeout
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._changed.wait()), limit)
        return self.up

    async def wait_up(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` seconds) until the server is up, e.g. restarted."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._up.wait(), timeout)
        return self.up

    @property
    def up(self) -> bool:
        # Found dead by a call, not yet seen down by its owner task: down already.
        return self.status is Status.UP and not self._dead.is_set()

    async def close(self) -> None:
        """Stop the server (its process exits with it) and any scheduled restart."""
        self._stop.set()
        if self._restart is not None:
            self._restart.cancel()
        if self._scope is not None:
            # An anyio cancel, not task.cancel(): the transport's shielded shutdown (close
            # stdin, wait, kill the process tree) still runs to the end.
            self._scope.cancel()
        owner = self._owner
        if owner is not None and not owner.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(owner)
        self.status = Status.CLOSED
        self._changed.set()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    async def _run(self) -> None:
        try:
            with anyio.CancelScope() as self._scope:
                if self._stop.is_set():
                    return  # closed before this task began
                with anyio.fail_after(self.server.start_timeout_s) as deadline:
                    async with (
                        self._transport() as target,
                        Client(target, cache=None, message_handler=self._on_message) as client,
                    ):
                        self.protocol = client.protocol_version
                        self.tools = await self._list(client)
                        deadline.deadline = math.inf
                        self._client = client
                        self.status, self.failures = Status.UP, 0
                        self._up.set()
                        self._changed.set()
                        await self._serve(client)
        except asyncio.CancelledError:
            self._stop.set()  # the loop is ending: no restart
            raise
        except Exception as exc:  # an ExceptionGroup from the transport, too
            self.last_error = self._describe(exc)
        finally:
            self._scope = None
            self._client = None
            self._up.clear()
            if self._stop.is_set():
                self.status = Status.CLOSED
            else:
                self._went_down()
            self._changed.set()

    async def _serve(self, client: Client) -> None:
        """Until closed or found dead: refresh the tool list when the server says so."""
        listener = None
        if self.protocol in MODERN_PROTOCOL_VERSIONS:
            listener = asyncio.create_task(self._listen(client))
        try:
            while not (self._stop.is_set() or self._dead.is_set()):
                waiters = [asyncio.ensure_future(e.wait()) for e in (self._stop, self._dead)]
                waiters.append(asyncio.ensure_future(self._stale.wait()))
                try:
                    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waiters:
                        waiter.cancel()
                if self._stale.is_set() and not self._stop.is_set():
                    self._stale.clear()
                    with contextlib.suppress(Exception):
                        async with asyncio.timeout(self.server.timeout_s):
                            self.tools = await self._list(client)
                    self.refreshed.set()
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(BaseException):
                    await listener

    async def _listen(self, client: Client) -> None:
        # 2026-era servers announce list changes on a subscriptions/listen stream.
        with contextlib.suppress(Exception):
            async with client.listen(tools_list_changed=True) as sub:
                async for _ in sub:
                    self._stale.set()

    async def _on_message(self, message: Any) -> None:
        # Handshake-era servers send notifications/tools/list_changed on the session.
        root = getattr(message, "root", message)
        if getattr(root, "method", None) == "notifications/tools/list_changed":
            self._stale.set()

    def _went_down(self) -> None:
        self.status = Status.DOWN
        self.failures += 1
        delay = self.backoff.delay(self.failures)
        self._retry_at = time.monotonic() + delay
        if self.failures <= self.backoff.attempts:
            self._restart = asyncio.get_running_loop().create_task(self._restart_after(delay))

    async def _restart_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._restart = None
        if not self._stop.is_set() and self.status is Status.DOWN:
            self.start()

    @contextlib.asynccontextmanager
    async def _transport(self) -> AsyncIterator[Any]:
        """The SDK transport (entered by ``mcp.Client``), and what it needs around it."""
        server = self.server
        if server.url is not None:
            async with httpx2.AsyncClient(headers=dict(server.headers)) as http:
                yield streamable_http_client(server.url, http_client=http)
            return
        assert server.command is not None
        params = StdioServerParameters(
            command=server.command, args=list(server.args), env=dict(server.env), cwd=server.cwd
        )
        if self._stderr is None:  # kept: its tail says why a server would not start
            temp = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
            self._stderr = cast(TextIO, temp)
        yield stdio_client(params, errlog=self._stderr)

    async def _list(self, client: Client) -> dict[str, Tool]:
        tools: dict[str, Tool] = {}
        cursor: str | None = None
        for _ in range(100):  # a paginator that never ends cannot hang the start
            page = await client.list_tools(cursor=cursor)
            tools.update((t.name, t) for t in page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        return tools

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, TimeoutError):
            reason = f"did not start within {self.server.start_timeout_s:g}s"
        elif isinstance(exc, BaseExceptionGroup):
            reason = "; ".join(self._describe(e) for e in exc.exceptions[:3])
        elif isinstance(exc, OSError):
            reason = f"cannot start: {exc.strerror or exc}"
        else:
            reason = str(exc) or type(exc).__name__
        tail = self._stderr_tail()
        if tail and tail not in reason:
            reason = f"{reason} (stderr: {tail})"
        return short(redact(reason, self.server.secrets))

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        with contextlib.suppress(OSError, ValueError):
            self._stderr.flush()
            self._stderr.seek(0)
            lines = [ln for ln in self._stderr.read().splitlines() if ln.strip()]
            self._stderr.seek(0, 2)
            return lines[-1].strip()[:200] if lines else ""
        return ""

    # -- calls -------------------------------------------------------------------------

    async def call(self, tool: str, arguments: Mapping[str, Any]) -> Called:
        """Call ``tool``: the SDK's result, or why there is none."""
        started = time.perf_counter()

        def done(result: CallToolResult | None, error: str | None) -> Called:
            latency = round((time.perf_counter() - started) * 1000.0, 3)
            if error is not None:
                error = short(redact(error, self.server.secrets))
            return Called(result, error, latency)

        if not await self.ensure():
            return done(None, self._down_reason())
        if tool not in self.tools:
            return done(None, f"server '{self.server.name}' has no tool '{tool}'")
        client = self._client
        if client is None or not self.up:
            return done(None, self._down_reason())
        try:  # a call waiting for a slot counts against its timeout too
            await asyncio.wait_for(self._slots.acquire(), self.server.timeout_s)
        except TimeoutError:
            return done(None, f"busy: no call slot free within {self.server.timeout_s:g}s")
        try:
            result = await client.call_tool(
                tool, dict(arguments), read_timeout_seconds=self.server.timeout_s
            )
        except MCPError as exc:
            if exc.code == REQUEST_TIMEOUT:
                return done(None, f"timed out after {self.server.timeout_s:g}s")
            if exc.code == CONNECTION_CLOSED:
                self._found_dead("the server exited during the call")
                return done(None, "the server exited during the call")
            return done(None, f"MCP error {exc.code}: {exc}")
        except (ValidationError, RuntimeError, ValueError, TypeError) as exc:
            return done(None, f"malformed result: {_first_line(exc)}")
        except TimeoutError:
            return done(None, f"timed out after {self.server.timeout_s:g}s")
        except Exception as exc:  # a transport failing mid-call (HTTP, ExceptionGroup)
            self._found_dead(str(exc) or type(exc).__name__)
            return done(None, f"the call failed: {_first_line(exc)}")
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # we are being cancelled (a pause, shutdown)
            # The transport's own task group gave up (an HTTP server dying mid-call).
            self._found_dead("the connection was lost during the call")
            return done(None, "the connection was lost during the call")
        finally:
            self._slots.release()
        return done(result, None)

    def _down_reason(self) -> str:
        if self.status is Status.STARTING:
            why = f"did not start within {self.server.start_timeout_s:g}s"
        else:
            why = self.last_error or "not started"
        return f"server '{self.server.name}' is down: {why}"

    def _found_dead(self, reason: str) -> None:
        self.last_error = short(redact(reason, self.server.secrets))
        self._dead.set()
        self._up.clear()

    async def ping(self) -> bool:
        """Health check: an up server answers (one that does not is restarted). 2026-era
        servers have no ping: they are asked for their tool list (which refreshes it)."""
        client = self._client
        if not self.up or client is None:
            return False
        try:
            async with asyncio.timeout(self.server.timeout_s):
                if self.protocol in MODERN_PROTOCOL_VERSIONS:
                    self.tools = await self._list(client)
                else:
                    with warnings.catch_warnings():  # deprecated for 2026-era servers only
                        warnings.simplefilter("ignore", MCPDeprecationWarning)
                        await client.send_ping()
        except Exception as exc:
            self._found_dead(f"no answer to a health check: {_first_line(exc)}")
            return False
        return True

    def status_row(self) -> dict[str, Any]:
        """What the UI/API shows of this server (never its env or headers)."""
        return {
            "server": self.server.name,
            "where": redact(self.server.where, self.server.secrets),
            "status": self.status.value,
            "last_error": self.last_error,
            "restarts": self.restarts,
            "tools": len(self.tools),
            "protocol": self.protocol,
        }


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
