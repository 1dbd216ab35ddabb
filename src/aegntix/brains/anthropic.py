"""Anthropic's Messages API through the official ``anthropic`` SDK.

Structured output uses tool use: the request offers one tool, ``decide``, whose input schema
is the decision schema, and forces it with ``tool_choice``; the tool call's input is the
decision. The system prompt goes in ``system``.

With an agent's tools, the request offers ``decide`` and the tools, and ``tool_choice: any``
lets the model call tools or decide; ``tool_use`` blocks for tools come back encoded
(``tool_use``), their outcomes go in as ``tool_result`` blocks, and once the rounds are spent
``decide`` is forced again. A reply that calls ``decide`` is the answer (any other calls in it
are not run).
"""

from __future__ import annotations

import json
from typing import Any

import anthropic

from aegntix.brains.limits import retry_after
from aegntix.brains.llm import DECIDE, Completion, PermanentFailure, Task, TransientFailure
from aegntix.brains.prompting import Message
from aegntix.brains.tool_use import Offer, ToolRequest, WireTool, encode_tool_calls
from aegntix.model.scenario import BrainConfig

DEFAULT_MAX_TOKENS = 1024


def tool(task: Task) -> dict[str, Any]:
    """The one tool a request offers (and forces): the task's answer as its input."""
    return {"name": task.name, "description": task.description, "input_schema": task.schema}


class AnthropicProvider:
    kind = "anthropic"

    def client(self, api_key: str, config: BrainConfig) -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(
            api_key=api_key, base_url=config.base_url, max_retries=0, timeout=config.timeout
        )

    def request(
        self,
        chat: list[Message],
        config: BrainConfig,
        sample: int | None = None,
        task: Task = DECIDE,
        offer: Offer | None = None,
    ) -> dict[str, Any]:
        """(The Messages API takes no seed: ``sample`` only separates cache entries.)"""
        system = "\n\n".join(m["content"] for m in chat if m["role"] == "system")
        turns = [m for m in chat if m["role"] != "system"]
        extra: dict[str, Any] = {"temperature": config.temperature, **config.options}
        tools = [tool(task)]
        choice: dict[str, Any] = {"type": "tool", "name": task.name}
        if offer is not None:
            turns = _turns(turns)
            tools.extend(_tool(t) for t in offer.tools)
            if not offer.closed:
                choice = {"type": "any"}
        return {
            "model": config.model,
            "max_tokens": config.max_tokens or DEFAULT_MAX_TOKENS,
            "system": system,
            "messages": turns,
            "tools": tools,
            "tool_choice": choice,
            # Sent as extra body: the parameter set of messages.create differs by SDK version.
            "extra_body": extra,
        }

    async def send(self, client: Any, request: dict[str, Any], timeout: float) -> Completion:
        try:
            reply = await client.messages.create(**request, timeout=timeout)
        except anthropic.APITimeoutError:
            raise TransientFailure(f"timed out after {timeout:g} s") from None
        except anthropic.APIConnectionError as exc:
            cause = exc.__cause__ or exc.__context__
            name = type(cause).__name__ if cause is not None else "no response"
            raise TransientFailure(f"connection failed ({name})") from None
        except anthropic.APIStatusError as exc:
            status = exc.status_code
            if status in (408, 409, 429) or status >= 500:  # 529: overloaded
                asked = retry_after(exc.response.headers)
                raise TransientFailure(f"HTTP {status}", asked) from None
            if status in (401, 403):
                raise PermanentFailure(
                    f"HTTP {status}: the provider refused the API key", config=True
                ) from None
            raise PermanentFailure(f"HTTP {status}: {exc.message[:300]}") from None
        except anthropic.APIResponseValidationError:
            raise TransientFailure("malformed response") from None
        content = getattr(reply, "content", None)
        if not isinstance(content, list):
            raise TransientFailure("malformed response (not a message)")
        offered: list[dict[str, Any]] = request.get("tools") or []
        # The answer's tool alone (no agent tools): read exactly as before tools existed.
        text = _reply_text(content) if len(offered) < 2 else _tool_reply(content, offered[0])
        usage = getattr(reply, "usage", None)
        tokens_in = int(getattr(usage, "input_tokens", 0) or 0)
        tokens_out = int(getattr(usage, "output_tokens", 0) or 0)
        return Completion(text, tokens_in, tokens_out)


def _reply_text(content: list[Any]) -> str:
    """The (forced) tool call's input as JSON, else the text blocks."""
    for block in content:
        if getattr(block, "type", None) == "tool_use":
            return json.dumps(block.input, sort_keys=True, ensure_ascii=False)
    return "".join(getattr(b, "text", "") for b in content if getattr(b, "type", None) == "text")


def _tool(offered: WireTool) -> dict[str, Any]:
    return {
        "name": offered.name,
        "description": offered.description,
        "input_schema": offered.schema,
    }


def _tool_reply(content: list[Any], answer: dict[str, Any]) -> str:
    """A reply to a request that offered tools: the answer tool's input, else the tool calls
    (encoded), else the text."""
    uses = [b for b in content if getattr(b, "type", None) == "tool_use"]
    for block in uses:
        if block.name == answer.get("name"):
            return json.dumps(block.input, sort_keys=True, ensure_ascii=False)
    text = "".join(getattr(b, "text", "") for b in content if getattr(b, "type", None) == "text")
    if not uses:
        return text
    requests = [
        ToolRequest(str(b.id), str(b.name), json.dumps(b.input, ensure_ascii=False)) for b in uses
    ]
    return encode_tool_calls(requests, text)


def _turns(turns: list[Message]) -> list[Message]:
    """Provider-neutral tool turns as content blocks: an assistant turn's calls as
    ``tool_use``, outcomes (and a user note after them) merged into one user turn."""
    out: list[Message] = []
    for message in turns:
        if message.get("tool_calls"):
            blocks: list[dict[str, Any]] = []
            if message["content"]:
                blocks.append({"type": "text", "text": message["content"]})
            for call in message["tool_calls"]:
                try:
                    arguments = json.loads(call["arguments"] or "{}")
                except ValueError:
                    arguments = {}
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": call["id"],
                        "name": call["name"],
                        "input": arguments if isinstance(arguments, dict) else {},
                    }
                )
            out.append({"role": "assistant", "content": blocks})
            continue
        if message["role"] == "tool":
            block: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": message["tool_call_id"],
                "content": message["content"],
            }
            if message.get("is_error"):
                block["is_error"] = True
        elif message["role"] == "user" and out and _results(out[-1]):
            block = {"type": "text", "text": message["content"]}
        else:
            out.append(message)
            continue
        if out and _results(out[-1]):
            out[-1]["content"].append(block)
        else:
            out.append({"role": "user", "content": [block]})
    return out


def _results(message: Message) -> bool:
    """A user turn of tool results (which later results and notes join)."""
    content = message.get("content")
    return (
        message["role"] == "user"
        and isinstance(content, list)
        and bool(content)
        and content[0].get("type") == "tool_result"
    )
