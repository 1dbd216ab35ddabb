"""OpenAI-compatible chat completions through the official ``openai`` SDK.

Works with anything that speaks ``POST /v1/chat/completions``: OpenAI, DeepSeek, vLLM,
Ollama, llama.cpp server, LM Studio (``base_url``); ``options`` become extra body fields.
Structured output uses JSON mode
(``response_format: {"type": "json_object"}``) by default; ``structured_output:
json_schema`` sends the decision schema where the server supports it; ``none`` relies on
the prompt alone. An agent's tools are offered as ``tools`` (functions); the model's
``tool_calls`` come back encoded (``tool_use``), the outcomes go in as ``role: tool``
messages, and once the rounds are spent ``tool_choice: none`` asks for the answer.
"""

from __future__ import annotations

import json
from typing import Any

import openai
from openai.types.chat import ChatCompletion

from aegntix.brains.limits import retry_after
from aegntix.brains.llm import DECIDE, Completion, PermanentFailure, Task, TransientFailure
from aegntix.brains.prompting import Message
from aegntix.brains.tool_use import Offer, ToolRequest, WireTool, encode_tool_calls
from aegntix.model.scenario import BrainConfig


class OpenAIProvider:
    kind = "openai"

    def client(self, api_key: str, config: BrainConfig) -> openai.AsyncOpenAI:
        # Retries are ours (backoff, Retry-After, counted attempts): the SDK makes one try.
        return openai.AsyncOpenAI(
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
        body: dict[str, Any] = {
            "model": config.model,
            "messages": chat if offer is None else [_wire(m) for m in chat],
            "temperature": config.temperature,
        }
        if offer is not None:
            body["tools"] = [{"type": "function", "function": _function(t)} for t in offer.tools]
            if offer.closed:
                body["tool_choice"] = "none"
        if config.max_tokens is not None:
            body["max_tokens"] = config.max_tokens
        if config.structured_output == "json_object":
            body["response_format"] = {"type": "json_object"}
        elif config.structured_output == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": "decision" if task.name == DECIDE.name else task.name,
                    "schema": task.schema,
                },
            }
        if sample is not None:
            body["seed"] = sample
        for key, value in config.options.items():  # extra body fields, e.g. Ollama's "options"
            body.setdefault(key, value)
        return body

    async def send(self, client: Any, request: dict[str, Any], timeout: float) -> Completion:
        try:
            # The SDK's generic POST (its documented way to send a body as is): the same
            # client, auth, errors and response type as ``chat.completions.create``, minus
            # re-validating our already-typed body (~1 ms of CPU per call, measured).
            reply = await client.post(
                "/chat/completions",
                cast_to=ChatCompletion,
                body=request,
                options={"timeout": timeout},
            )
        except openai.APITimeoutError:
            raise TransientFailure(f"timed out after {timeout:g} s") from None
        except openai.APIConnectionError as exc:
            raise TransientFailure(f"connection failed ({_cause(exc)})") from None
        except openai.APIStatusError as exc:
            raise _status_failure(exc.status_code, exc.response.headers, exc.message) from None
        except openai.APIResponseValidationError:
            raise TransientFailure("malformed response") from None
        if not isinstance(reply, ChatCompletion) or not reply.choices:
            raise TransientFailure("malformed response (not a chat completion)")
        message = reply.choices[0].message
        text = message.content or ""
        requests = [  # function calls only: custom tools are never offered
            ToolRequest(c.id or "", str(fn.name), _arguments(fn.arguments))
            for c in message.tool_calls or ()
            if (fn := getattr(c, "function", None)) is not None
        ]
        if requests:
            text = encode_tool_calls(requests, text)
        usage = reply.usage
        tokens_in = int(usage.prompt_tokens or 0) if usage else 0
        tokens_out = int(usage.completion_tokens or 0) if usage else 0
        return Completion(text, tokens_in, tokens_out)


def _arguments(value: Any) -> str:
    """A call's arguments as JSON text (some servers send an object, not its text)."""
    if value is None or isinstance(value, str):
        return value or ""
    return json.dumps(value, ensure_ascii=False)


def _function(tool: WireTool) -> dict[str, Any]:
    return {"name": tool.name, "description": tool.description, "parameters": tool.schema}


def _wire(message: Message) -> Message:
    """A provider-neutral tool turn in the chat-completions format (others as they are)."""
    if message["role"] == "tool":
        return {
            "role": "tool",
            "tool_call_id": message["tool_call_id"],
            "content": message["content"],
        }
    calls = message.get("tool_calls")
    if not calls:
        return message
    return {
        "role": "assistant",
        "content": message["content"] or None,
        "tool_calls": [
            {
                "id": c["id"],
                "type": "function",
                "function": {"name": c["name"], "arguments": c["arguments"]},
            }
            for c in calls
        ],
    }


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    return type(cause).__name__ if cause is not None else "no response"


def _status_failure(status: int, headers: Any, message: str) -> Exception:
    """429, 408, 409 and 5xx are worth retrying; 401/403 are configuration errors."""
    if status in (408, 409, 429) or status >= 500:
        return TransientFailure(f"HTTP {status}", retry_after(headers))
    if status in (401, 403):
        return PermanentFailure(f"HTTP {status}: the provider refused the API key", config=True)
    return PermanentFailure(f"HTTP {status}: {message[:300]}")
