"""A fake model provider over real HTTP, for tests, benchmarks and offline demos.

``FakeLLM`` is a small HTTP/1.1 server (asyncio streams, keep-alive) on a loopback port, run
in a background thread. It speaks enough of two APIs for the official SDKs to talk to it:

- OpenAI-compatible ``POST /v1/chat/completions`` (point ``AsyncOpenAI(base_url=fake.url +
  "/v1")`` at it);
- Anthropic ``POST /v1/messages`` (``AsyncAnthropic(base_url=fake.url)``), answering with a
  ``tool_use`` block when the request offers tools.

A reply can also call the agent's tools (:meth:`Reply.calling`): ``tool_calls`` on the OpenAI
endpoint, ``tool_use`` blocks on the Anthropic one.

Every request is counted and kept. What it answers is scriptable: ``script(...)`` queues
:class:`Reply` objects consumed one per request, in order; when the queue is empty the
``responder`` (a function of the request) answers. A reply can carry an answer (a decision
dict or text), a delay, an error status with ``Retry-After``, a dropped connection, a
truncated body or a non-JSON body.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable", 529: "Overloaded"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Request:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float = 0.0  # time.monotonic() when its head arrived (checks of spacing, of windows)

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def api(self) -> str:
        return "anthropic" if self.path.rstrip("/").endswith("/messages") else "openai"

    def prompt_text(self) -> str:
        """Every message's text, joined (the system prompt included)."""
        data = self.json or {}
        parts = [str(data.get("system", ""))]
        for m in data.get("messages", []):
            content = m.get("content")
            parts.append(content if isinstance(content, str) else json.dumps(content))
        return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class Reply:
    """What to answer one request with. ``answer``: a dict (sent as JSON content, or as the
    tool input on the Anthropic endpoint) or text; ``body`` replaces the whole body."""

    answer: Any = None
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    drop: bool = False  # close the connection without answering
    truncate: bool = False  # announce the full length, send half, close
    tokens: tuple[int, int] | None = None  # usage to report (default: ~4 chars per token)
    #: Tools to call instead of answering: (wire name, arguments: a dict, or raw JSON text).
    tool_calls: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def calling(cls, *calls: tuple[str, Any], text: str = "") -> Reply:
        """Call these tools (``text``: said alongside)."""
        return cls(answer=text or None, tool_calls=calls)

    @classmethod
    def status_code(cls, status: int, *, retry_after: float | None = None) -> Reply:
        headers = {} if retry_after is None else {"retry-after": f"{retry_after:g}"}
        body = json.dumps({"error": {"message": f"fake {status}", "type": "fake"}}).encode()
        return cls(status=status, headers=headers, body=body)

    @classmethod
    def garbage(cls) -> Reply:
        return cls(body=b"<html>502 upstream hiccup</html>", headers={"content-type": "text/html"})


Responder = Callable[[Request], Reply]


def is_reflection(request: Request) -> bool:
    """A memory stream's reflection request (rather than a decision)."""
    tools = (request.json or {}).get("tools") or []
    if tools:
        return bool(tools[0].get("name") == "reflect")
    return "high-level insights" in request.prompt_text()


def default_responder(request: Request) -> Reply:
    """A plausible answer that depends only on the request — a decision: speak, naming a
    short digest of the prompt so different prompts get different answers; a reflection:
    one insight citing the first memory."""
    tag = hashlib.sha256(request.body).hexdigest()[:8]
    if is_reflection(request):
        return Reply(answer={"insights": [{"text": f"I see a pattern ({tag}).", "cites": [1]}]})
    return Reply(answer={"action": "say", "content": f"I have considered it ({tag})."})


class FakeLLM:
    """Start with ``with FakeLLM() as fake:`` (or ``start()``/``stop()``)."""

    def __init__(
        self, responder: Responder | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        """``port`` 0 picks a free one (see :attr:`url` once started)."""
        self.responder: Responder = responder or default_responder
        self.host = host
        self.port = port
        self.requests: list[Request] = []
        self._count = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._keep_requests = True
        self._error: OSError | None = None

    # -- control (from any thread) ---------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def openai_url(self) -> str:
        return self.url + "/v1"

    @property
    def count(self) -> int:
        """Requests received since the last :meth:`reset`."""
        with self._lock:
            return self._count

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these, in order (then the responder again)."""
        with self._lock:
            self._script.extend(replies)

    def reset(self, responder: Responder | None = None) -> None:
        """Forget requests and script; answer with ``responder`` (default: the default)."""
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self._count = 0
            self.max_in_flight = self.in_flight
            if responder is not None:
                self.responder = responder
            else:
                self.responder = default_responder

    def keep_requests(self, keep: bool) -> None:
        """Long-running servers turn this off so memory stays flat (``count`` still counts)."""
        self._keep_requests = keep

    def start(self) -> FakeLLM:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake LLM server did not start")
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is None or server is None:
            return

        async def shutdown() -> None:
            server.close()
            for task in [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                task.cancel()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(5)
        self._loop = self._server = None

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- the server (its own thread and loop) ----------------------------------------------
    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._connection, self.host, self.port, backlog=1024)
            )
        except OSError as exc:
            self._error = exc
            ready.set()
            loop.close()
            return
        self._loop = loop
        self.port = self._server.sockets[0].getsockname()[1]
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                if not await self._answer(request, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return
        except asyncio.CancelledError:  # the server is stopping
            return
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def _next_reply(self, request: Request) -> Reply:
        with self._lock:
            self._count += 1
            if self._keep_requests:
                self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            scripted = self._script.popleft() if self._script else None
        return scripted or self.responder(request)

    async def _answer(self, request: Request, writer: asyncio.StreamWriter) -> bool:
        """Write one response; False when the connection must close."""
        try:
            reply = self._next_reply(request)
            if reply.delay:
                await asyncio.sleep(reply.delay)
        finally:
            with self._lock:
                self.in_flight -= 1
        if reply.drop:
            return False
        body = reply.body if reply.body is not None else _body(request, reply)
        headers = {"content-type": "application/json", **reply.headers}
        head = f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += f"content-length: {len(body)}\r\n\r\n"
        payload = head.encode("latin-1") + (body[: len(body) // 2] if reply.truncate else body)
        writer.write(payload)
        await writer.drain()
        return not reply.truncate


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    at = time.monotonic()
    lines = raw.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return Request(method, path, headers, body, at)


def _tokens(request: Request, text: str, reply: Reply) -> tuple[int, int]:
    if reply.tokens is not None:
        return reply.tokens
    return max(1, len(request.prompt_text()) // 4), max(1, len(text) // 4)


def _calls(request: Request, reply: Reply) -> list[tuple[str, str, Any]]:
    """(id, name, arguments) of a reply's tool calls; ids unique per request."""
    tag = hashlib.sha256(request.body).hexdigest()[:8]
    return [(f"call_{tag}_{i}", name, args) for i, (name, args) in enumerate(reply.tool_calls)]


def _body(request: Request, reply: Reply) -> bytes:
    if reply.tool_calls:
        return _tool_body(request, reply)
    answer = reply.answer if reply.answer is not None else {"action": "pass"}
    text = answer if isinstance(answer, str) else json.dumps(answer)
    tokens_in, tokens_out = _tokens(request, text, reply)
    data = request.json or {}
    model = str(data.get("model", "fake"))
    created = int(time.time())
    if request.api == "anthropic":
        tools = data.get("tools") or []
        if tools and not isinstance(answer, str):
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": "toolu_fake",
                "name": tools[0].get("name", "tool"),
                "input": answer,
            }
            stop = "tool_use"
        else:
            block, stop = {"type": "text", "text": text}, "end_turn"
        message = {
            "id": f"msg_{created}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [block],
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out},
        }
        return json.dumps(message).encode()
    completion = {
        "id": f"chatcmpl-{created}",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": tokens_in,
            "completion_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
        },
    }
    return json.dumps(completion).encode()


def _tool_body(request: Request, reply: Reply) -> bytes:
    said = reply.answer if isinstance(reply.answer, str) else ""
    calls = _calls(request, reply)
    tokens_in, tokens_out = _tokens(request, said + json.dumps(reply.tool_calls), reply)
    model = str((request.json or {}).get("model", "fake"))
    if request.api == "anthropic":
        blocks: list[dict[str, Any]] = [{"type": "text", "text": said}] if said else []
        blocks.extend(
            {"type": "tool_use", "id": i, "name": name, "input": args} for i, name, args in calls
        )
        message = {
            "id": "msg_tools",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": blocks,
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out},
        }
        return json.dumps(message).encode()
    wire = [
        {
            "id": i,
            "type": "function",
            "function": {
                "name": name,
                "arguments": args if isinstance(args, str) else json.dumps(args),
            },
        }
        for i, name, args in calls
    ]
    completion = {
        "id": "chatcmpl-tools",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {"role": "assistant", "content": said or None, "tool_calls": wire},
            }
        ],
        "usage": {
            "prompt_tokens": tokens_in,
            "completion_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
        },
    }
    return json.dumps(completion).encode()


def main(argv: list[str] | None = None) -> None:
    """``python -m aegntix.testing [--port N] [--delay S]``: serve until Ctrl-C
    (a stand-in provider for demos and for benchmarks that want it in another process)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds per reply")
    args = parser.parse_args(argv)

    def responder(request: Request) -> Reply:
        reply = default_responder(request)
        return Reply(answer=reply.answer, delay=args.delay)

    fake = FakeLLM(responder, host=args.host, port=args.port)
    fake.keep_requests(False)
    fake.start()
    print(f"fake LLM on {fake.url} (OpenAI: {fake.openai_url}; Anthropic: {fake.url})", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
