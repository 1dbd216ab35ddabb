"""OpenAI-compatible chat completions through the official ``openai`` SDK.

Works with anything that speaks ``POST /v1/chat/completions``: OpenAI, DeepSeek, vLLM,
Ollama, llama.cpp server, LM Studio (``base_url``); ``options`` become extra body fields.
Structured output uses JSON mode
(``response_format: {"type": "json_object"}``) by default; ``structured_output:
json_schema`` sends the decision schema where the server supports it; ``none`` relies on
the prompt alone.
"""

from __future__ import annotations

from typing import Any

import openai
from openai.types.chat import ChatCompletion

from aegntix.brains.limits import retry_after
from aegntix.brains.llm import DECIDE, Completion, PermanentFailure, Task, TransientFailure
from aegntix.brains.prompting import Message
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
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": config.model,
            "messages": chat,
            "temperature": config.temperature,
        }
        if config.max_tokens is not None:
            body["max_tokens"] = config.max_tokens
        if config.structured_output == "json_object":
            body["response_format"] = {"type": "json_object"}
        elif config.structured_output == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": "decision" if task is DECIDE else task.name,
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
        text = reply.choices[0].message.content or ""
        usage = reply.usage
        tokens_in = int(usage.prompt_tokens or 0) if usage else 0
        tokens_out = int(usage.completion_tokens or 0) if usage else 0
        return Completion(text, tokens_in, tokens_out)


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
