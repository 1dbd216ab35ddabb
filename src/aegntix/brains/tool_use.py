"""Tool use by model-backed brains: an agent's tools offered through the provider's native
tool calling, and the loop that runs the calls a model asks for before it decides.

- **Names.** Both APIs allow only letters, digits, ``_`` and ``-`` in a tool name, so
  ``server.tool`` is offered as ``server__tool`` (any other character becomes ``_``; a clash
  gets a numeric suffix) and mapped back when the model calls it. Tools are offered sorted by
  name: the request, and so its digest (the cache key), does not depend on listing order.
- **Replies.** A reply that asks for tools is kept (in the cache and the decision's ``calls``)
  as one JSON object, ``{"tool_calls": [{"id", "name", "arguments"}], "text"?}``, with
  ``arguments`` the JSON text the model wrote, so a replay reads it back like any reply.
- **Transcript.** Between rounds the chat holds provider-neutral messages: an assistant turn
  ``{"role": "assistant", "content", "tool_calls": [...]}`` as above, then one
  ``{"role": "tool", "tool_call_id", "content", "is_error"}`` per call; each provider renders
  them in its own format (``openai.py``, ``anthropic.py``).
- **Rounds.** At most ``max_tool_rounds`` rounds of calls (several calls per round, run
  concurrently); then the model is asked once more with the tools closed, for its decision.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from aegntix.brains.prompting import InvalidReply, Message
from aegntix.tools.base import AgentTools, ToolInfo, ToolOutcome

T = TypeVar("T")

#: Calls run per round at most; the model's further calls get an error result instead.
MAX_CALLS_PER_ROUND = 8
#: Longest tool name both APIs accept.
MAX_NAME = 64
#: Task names a request may already use for its own answer (Anthropic's forced tool).
RESERVED = frozenset({"decide", "reflect"})

CLOSED_NOTE = (
    "You have used all your tool calls for this turn. Answer now with your move as one JSON "
    "object only."
)
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True, slots=True)
class WireTool:
    """One tool as a request offers it."""

    name: str  # safe for the wire: [A-Za-z0-9_-]{1,64}
    description: str
    schema: dict[str, Any]  # JSON Schema of the arguments (an object)


@dataclass(frozen=True, slots=True)
class Offer:
    """The tools a request carries; ``closed``: the rounds are spent, the model must answer."""

    tools: tuple[WireTool, ...]
    closed: bool = False


@dataclass(frozen=True, slots=True)
class ToolRequest:
    """One call a model asked for: its id, the wire name, the arguments as it wrote them."""

    id: str
    name: str
    arguments: str


def wire_names(tools: Sequence[ToolInfo]) -> dict[str, ToolInfo]:
    """Wire name -> tool, for ``tools`` sorted by name (see the module docstring)."""
    named: dict[str, ToolInfo] = {}
    for info in sorted(tools, key=lambda t: t.name):
        base = _UNSAFE.sub("_", info.name.replace(".", "__"))[:MAX_NAME] or "tool"
        name, n = base, 1
        while name in named or name in RESERVED:
            n += 1
            suffix = f"_{n}"
            name = base[: MAX_NAME - len(suffix)] + suffix
        named[name] = info
    return named


def _schema(info: ToolInfo) -> dict[str, Any]:
    schema = dict(info.input_schema)
    schema.setdefault("type", "object")
    if schema["type"] == "object":
        schema.setdefault("properties", {})
    return schema


def encode_tool_calls(requests: Sequence[ToolRequest], text: str = "") -> str:
    """A reply that asks for tools, as the text the cache and the timeline keep."""
    data: dict[str, Any] = {
        "tool_calls": [{"id": r.id, "name": r.name, "arguments": r.arguments} for r in requests]
    }
    if text:
        data["text"] = text
    return json.dumps(data, ensure_ascii=False)  # "tool_calls" first: see decode_tool_calls


def decode_tool_calls(text: str) -> tuple[list[ToolRequest], str] | None:
    """The calls (and any text) of a reply made by :func:`encode_tool_calls`; None for any
    other reply (an answer)."""
    if not text.startswith('{"tool_calls"'):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    calls = data.get("tool_calls") if isinstance(data, dict) else None
    if not isinstance(calls, list) or not calls or set(data) - {"tool_calls", "text"}:
        return None
    requests = []
    for call in calls:
        if not isinstance(call, dict):
            return None
        arguments = call.get("arguments")
        if not isinstance(arguments, str):
            arguments = "" if arguments is None else json.dumps(arguments)
        requests.append(ToolRequest(str(call.get("id") or ""), str(call.get("name")), arguments))
    return requests, str(data.get("text", ""))


def parse_arguments(text: str) -> dict[str, Any]:
    """A call's arguments; raises ``ValueError`` (what the model is told) if not an object."""
    if not text.strip():
        return {}  # some servers send "" for a call without arguments
    try:
        value = json.loads(text)
    except ValueError:
        raise ValueError("the arguments are not valid JSON") from None
    except RecursionError:
        raise ValueError("the arguments are nested too deeply") from None
    if not isinstance(value, dict):
        raise ValueError("the arguments must be a JSON object")
    return value


def outcome_text(outcome: ToolOutcome) -> str:
    """What the model reads of a call's outcome: nothing of its timing, and keys sorted, so
    an outcome read back from the timeline reads the same (and the next request hits the
    cache)."""
    if outcome.error is not None:
        return f"error: {outcome.error}"
    result = outcome.result
    if isinstance(result, str):
        text = result
    else:
        text = json.dumps(result, ensure_ascii=False, sort_keys=True, default=str)
    return text + "\n[cut to the size limit]" if outcome.truncated else text


class ToolSession:
    """One decision's tool use: the offer, the name mapping, the rounds run so far."""

    def __init__(self, tools: AgentTools, max_rounds: int) -> None:
        self.tools = tools
        self.max_rounds = max_rounds
        self.by_wire = wire_names(tools.available)
        offered = tuple(
            WireTool(wire, info.description, _schema(info)) for wire, info in self.by_wire.items()
        )
        self.open = Offer(offered)
        self.closed = Offer(offered, closed=True)
        self.rounds = 0

    async def run(
        self, chat: list[Message], ask: Callable[[list[Message], Offer], Awaitable[str]]
    ) -> tuple[list[Message], str]:
        """Ask, run the calls the model asks for, show it the outcomes, ask again; after
        ``max_rounds`` rounds ask with the tools closed. Returns the chat (with every round)
        and the last reply's text (the answer to parse)."""
        chat = list(chat)
        while True:
            closed = self.rounds >= self.max_rounds
            if closed:
                chat.append({"role": "user", "content": CLOSED_NOTE})
            text = await ask(chat, self.closed if closed else self.open)
            asked = None if closed else decode_tool_calls(text)
            if asked is None:
                return chat, text
            requests, said = asked
            requests = [
                ToolRequest(r.id or f"call_{self.rounds}_{i}", r.name, r.arguments)
                for i, r in enumerate(requests)
            ]
            calls = [{"id": r.id, "name": r.name, "arguments": r.arguments} for r in requests]
            chat.append({"role": "assistant", "content": said, "tool_calls": calls})
            chat.extend(await self._results(requests))
            self.rounds += 1

    def answer(self, parse: Callable[[str], T]) -> Callable[[str], T]:
        """``parse``, refusing a reply that still asks for tools once they are closed."""

        def checked(text: str) -> T:
            if decode_tool_calls(text) is not None:
                raise InvalidReply("the tools are closed for this turn: answer with your move")
            return parse(text)

        return checked

    async def _results(self, requests: list[ToolRequest]) -> list[Message]:
        """One ``tool`` message per request, in order: the outcome of the calls that run
        (concurrently), or why a call did not run (an unknown name, bad arguments)."""
        texts: list[tuple[str, bool] | None] = [None] * len(requests)
        jobs: list[tuple[int, str, dict[str, Any]]] = []
        for i, request in enumerate(requests):
            info = self.by_wire.get(request.name)
            if i >= MAX_CALLS_PER_ROUND:
                texts[i] = (f"error: not run: at most {MAX_CALLS_PER_ROUND} calls per round", True)
            elif info is None:  # (the list of its tools is in the request already)
                texts[i] = (f"error: no tool named {request.name!r}", True)
            else:
                try:
                    jobs.append((i, info.name, parse_arguments(request.arguments)))
                except ValueError as exc:
                    texts[i] = (f"error: {exc}", True)
        before = len(self.tools.calls)
        done = await asyncio.gather(
            *(self.tools.call(name, args) for _, name, args in jobs), return_exceptions=True
        )
        for result in done:
            if isinstance(result, BaseException):
                raise result
        outcomes = [r for r in done if isinstance(r, ToolOutcome)]
        # The calls in the order the model asked for them, not the order they finished in.
        self.tools.calls[before:] = outcomes
        for (i, _, _), outcome in zip(jobs, outcomes, strict=True):
            texts[i] = (outcome_text(outcome), not outcome.ok)
        return [
            {"role": "tool", "tool_call_id": r.id, "content": t[0], "is_error": t[1]}
            for r, t in zip(requests, texts, strict=True)
            if t is not None
        ]
