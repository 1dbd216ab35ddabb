"""Reflection prompts for model-backed brains: the agent's recent memories in, a few
higher-level insights out, each citing the memories it rests on (*Generative Agents*' "what
high-level insights can you infer?", as structured output).

Like decisions, the request is a deterministic function of what the agent remembers, so a
fork with no intervention asks the same question and reads the cached, recorded answer.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from aegntix.brains.base import Insight, Reflection, ReflectionRequest
from aegntix.brains.prompting import InvalidReply, Message, parse_json_object

MAX_INSIGHTS = 3

REFLECTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "insights": {
            "type": "array",
            "maxItems": MAX_INSIGHTS,
            "items": {
                "type": "object",
                "properties": {
                    "text": {
                        "type": "string",
                        "description": "an insight, in the first person, one sentence",
                    },
                    "cites": {
                        "type": "array",
                        "items": {"type": "integer"},
                        "description": "numbers of the memories it rests on",
                    },
                },
                "required": ["text", "cites"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["insights"],
    "additionalProperties": False,
}
_SCHEMA_TEXT = json.dumps(REFLECTION_SCHEMA, separators=(",", ":"))


def reflection_messages(request: ReflectionRequest, system: str) -> list[Message]:
    """The agent's own system prompt, then its numbered memories and the question."""
    lines = [f"Step {request.step}. Time to take stock. Your recent memories:"]
    lines.extend(f"{i}. {text}" for i, text in enumerate(request.memories, start=1))
    lines.append(
        f"What are the {MAX_INSIGHTS} most important high-level insights you can infer from "
        "these memories — about the others, about where things are heading, about yourself? "
        "Cite the numbers of the memories each rests on. Answer with ONE JSON object and "
        f"nothing else, matching this JSON Schema: {_SCHEMA_TEXT}"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(lines)}]


def parse_reflection(text: str, count: int) -> Reflection:
    """Validate a reply; citations must name memories that were shown (1..count)."""
    data = parse_json_object(text)
    try:
        reflection = Reflection.model_validate({"insights": data.get("insights")})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "answer"
        raise InvalidReply(f"{where}: {first['msg']}") from None
    if not reflection.insights:
        raise InvalidReply("insights: give at least one")
    cleaned = []
    for insight in reflection.insights:
        bad = [c for c in insight.cites if not 1 <= c <= count]
        if bad:
            raise InvalidReply(f"cites: {bad[0]} is not one of the memories 1..{count}")
        cleaned.append(Insight(text=insight.text.strip(), cites=sorted(set(insight.cites))))
    return Reflection(insights=cleaned)
