"""Safe text and plain data: the checks every piece of user text and free-form data passes.

Text a user writes (names, goals, backstories, injections, profiles) is later printed to
terminals and pages, so it may not carry characters that rewrite them: NUL and other C0/C1
controls (ESC starts ANSI escape sequences), DEL, bidi embeddings/overrides/isolates
(U+202A–U+202E, U+2066–U+2069, the "Trojan Source" characters), line/paragraph separators in
one-line text, and lone surrogates (not encodable as UTF-8). Multi-line text may hold
newlines and tabs.

Free-form data (the world, injection fields, brain options) is JSON-like: bounded depth and
size, finite numbers, integers within :data:`MAX_INT`, safe strings. Checks are iterative,
so a document nested thousands of levels deep is refused, never a ``RecursionError``.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import AfterValidator, ValidationInfo

#: Deepest nesting of lists/mappings anywhere in a scenario, request body or data value.
MAX_DEPTH = 64
#: Largest integer magnitude in data and expression results (a signed 64-bit integer).
MAX_INT = 2**63 - 1
#: Longest string in free-form data and in an expression's result.
MAX_STRING = 10_000
#: Most items (values, keys) in one free-form data value.
MAX_ITEMS = 100_000

_ALWAYS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_MULTI_LINE = re.compile(f"[{_ALWAYS}]|\r(?!\n)")
_ONE_LINE = re.compile(f"[{_ALWAYS}\n\r\t\u2028\u2029]")

_NAMES = {
    "\t": "a tab",
    "\n": "a line break",
    "\r": "a carriage return",
    "\x00": "a NUL character",
    "\x1b": "an escape character (terminal control sequence)",
    "\x7f": "a DEL character",
    "\u2028": "a line separator",
    "\u2029": "a paragraph separator",
}


def _describe(char: str) -> str:
    code = ord(char)
    if char in _NAMES:
        name = _NAMES[char]
    elif 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069:
        name = "a bidirectional override"
    elif 0xD800 <= code <= 0xDFFF:
        name = "a lone surrogate"
    else:
        name = "a control character"
    return f"{name} (U+{code:04X})"


def text_problem(value: str, *, multi_line: bool = True) -> str | None:
    """Why ``value`` is not acceptable text, or None."""
    found = (_MULTI_LINE if multi_line else _ONE_LINE).search(value)
    if found is None:
        return None
    where = f"at character {found.start() + 1}"
    return f"contains {_describe(found.group())} {where}; remove it"


def stored(info: ValidationInfo) -> bool:
    """Whether this validation re-reads a spec the database already holds (``stored_scenario``):
    it was accepted under the rules of its day, so rules added since must not lock it out."""
    return bool(info.context and info.context.get("stored"))


def _safe_text(value: str, info: ValidationInfo) -> str:
    if stored(info):
        return value
    problem = text_problem(value, multi_line=True)
    if problem:
        raise ValueError(problem)
    return value


def _safe_line(value: str, info: ValidationInfo) -> str:
    if stored(info):
        return value
    problem = text_problem(value, multi_line=False)
    if problem:
        raise ValueError(problem)
    return value


def data_problem(value: Any, *, max_depth: int = MAX_DEPTH) -> str | None:
    """Why ``value`` is not acceptable plain data (JSON-like), or None. Iterative."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    items = 0
    while stack:
        item, depth = stack.pop()
        items += 1
        if items > MAX_ITEMS:
            return f"more than {MAX_ITEMS:,} values"
        if isinstance(item, dict | list | tuple):
            if depth > max_depth:
                return f"nested deeper than {max_depth} levels"
            if isinstance(item, dict):
                for key in item:
                    if not isinstance(key, str):
                        return f"keys must be text (got {type(key).__name__})"
                    if (problem := text_problem(key, multi_line=False)) is not None:
                        return f"key {key[:40]!r} {problem}"
                stack.extend((v, depth + 1) for v in item.values())
            else:
                stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if abs(item) > MAX_INT:
                return f"integer {_short(item)} is out of range (at most ±{MAX_INT})"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"{item} is not a finite number"
        elif isinstance(item, str):
            if len(item) > MAX_STRING:
                return f"text longer than {MAX_STRING:,} characters"
            if (problem := text_problem(item)) is not None:
                return f"text {problem}"
        else:
            return f"{type(item).__name__} is not a JSON value"
    return None


def _short(number: int) -> str:
    # str() of a huge int is slow (and refused past 4,300 digits): describe it instead.
    if number.bit_length() <= 100:
        return str(number)
    return f"of about {int(number.bit_length() * 0.30103):,} digits"


def _plain_data(value: Any, info: ValidationInfo) -> Any:
    if stored(info):
        return value
    problem = data_problem(value)
    if problem:
        raise ValueError(problem)
    return value


#: Multi-line user text (backstories, descriptions, injections): newlines and tabs allowed.
SafeText = Annotated[str, AfterValidator(_safe_text)]
#: One-line user text (names, roles, labels, keywords).
SafeLine = Annotated[str, AfterValidator(_safe_line)]
#: Free-form JSON-like data (world values, injection fields, brain options).
PlainData = Annotated[Any, AfterValidator(_plain_data)]
