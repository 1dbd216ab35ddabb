"""What a tool call's result becomes before anyone sees it: plain JSON (structured content,
else the text), secrets redacted, cut to the size limit."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aegntix.brains.credentials import redact as redact_text

if TYPE_CHECKING:
    from mcp_types import CallToolResult

#: An error reason is short: it is shown to agents and stored in events.
MAX_ERROR_CHARS = 300


def result_value(result: CallToolResult) -> tuple[Any, str | None]:
    """(result, error) of a call: ``is_error`` gives the text as the error."""
    from mcp_types import TextContent  # loaded already: a result came from the SDK

    texts = [b.text for b in result.content if isinstance(b, TextContent)]
    if result.is_error:
        return None, ("tool error: " + " ".join(texts)).strip() or "tool error"
    if result.structured_content is not None:
        return _plain(result.structured_content), None
    others = [
        {"type": b.type, **({"mime_type": m} if (m := getattr(b, "mime_type", None)) else {})}
        for b in result.content
        if not isinstance(b, TextContent)
    ]
    if not others:
        return (texts[0] if len(texts) == 1 else texts), None
    return [*texts, *others], None


def _plain(value: Any) -> Any:
    # Round-trip through JSON: what is recorded is exactly what a replay reads back.
    return json.loads(json.dumps(value, ensure_ascii=False, allow_nan=False))


def redact(value: Any, secrets: Sequence[str]) -> Any:
    """``value`` with every secret (longer than 3 characters) replaced, at any depth, and
    text every store keeps (no NUL, which PostgreSQL refuses; no lone surrogates)."""
    live = [s for s in secrets if len(s) > 3]
    if isinstance(value, str):
        return _storable(redact_text(value, *live))
    if isinstance(value, list):
        return [redact(v, live) for v in value]
    if isinstance(value, dict):
        return {redact(str(k), live): redact(v, live) for k, v in value.items()}
    return value


def _storable(text: str) -> str:
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def limited(value: Any, max_chars: int) -> tuple[Any, bool]:
    """``value`` if its JSON text fits ``max_chars``; else that text (or the string) cut to
    it, and True."""
    if isinstance(value, str):
        return (value, False) if len(value) <= max_chars else (value[:max_chars], True)
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    if len(text) <= max_chars:
        return value, False
    return text[:max_chars], True


def short(reason: str) -> str:
    """One line, at most :data:`MAX_ERROR_CHARS`."""
    line = " ".join(reason.split())
    return line if len(line) <= MAX_ERROR_CHARS else line[: MAX_ERROR_CHARS - 1] + "…"
