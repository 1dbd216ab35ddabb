"""Anthropic's Messages API through the official ``anthropic`` SDK.

Structured output uses tool use: the request offers one tool, ``decide``, whose input schema
is the decision schema, and forces it with ``tool_choice``; the tool call's input is the
decision. The system prompt goes in ``system``.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic

from aegntix.brains.limits import retry_after
from aegntix.brains.llm import DECIDE, Completion, PermanentFailure, Task, TransientFailure
from aegntix.brains.prompting import Message
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
    ) -> dict[str, Any]:
        """(The Messages API takes no seed: ``sample`` only separates cache entries.)"""
        system = "\n\n".join(m["content"] for m in chat if m["role"] == "system")
        turns = [m for m in chat if m["role"] != "system"]
        extra: dict[str, Any] = {"temperature": config.temperature, **config.options}
        return {
            "model": config.model,
            "max_tokens": config.max_tokens or DEFAULT_MAX_TOKENS,
            "system": system,
            "messages": turns,
            "tools": [tool(task)],
            "tool_choice": {"type": "tool", "name": task.name},
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
        text = _reply_text(content)
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
