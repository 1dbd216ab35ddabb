"""What generated speech must never do, as checks a test can list failures of."""

from __future__ import annotations

import re

_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”")
#: A stance verb or preposition followed by a clause opener: "oppose whether", "for if".
_VERB_CLAUSE = re.compile(
    r"\b(?:support|supports|oppose|opposes|back|behind|for|against|favour of|towards|accept|"
    r"about|on|of)\s+(?:whether|if|that if|that whether|should|to\s+\w+\s+the)\b",
    re.IGNORECASE,
)
_STACKED = re.compile(r"\b(?:that|whether|if)\s+(?:that|whether|if)\b", re.IGNORECASE)
_ARTICLES = re.compile(r"\b(?:the|a|an)\s+(?:the|a|an)\b", re.IGNORECASE)
_DOUBLED_WORD = re.compile(r"\b(\w+)\s+\1\b", re.IGNORECASE)
_DOUBLED_PUNCT = re.compile(r"[.,;:!?]\s*[.,;:!?]|\s[.,;:!?]")
_LOWER_AFTER_STOP = re.compile(r"[.!?]\s+[a-z]")
_LOWER_I = re.compile(r"(?<![\w'])i(?![\w'])")
_A_VOWEL = re.compile(r"\ba\s+[aeio]\w", re.IGNORECASE)
_GOAL_LABEL = re.compile(r"my goal:", re.IGNORECASE)


def problems(line: str) -> list[str]:
    """Every rule ``line`` breaks (empty when it reads as a grammatical utterance)."""
    found: list[str] = []
    outside = _QUOTED.sub('"…"', line)
    if not line.strip():
        return ["empty"]
    if not line[0].isupper() and line[0] not in '"“':
        found.append("does not start with a capital")
    if line[-1] not in ".!?…":
        found.append("does not end with punctuation")
    for name, pattern in (
        ("clause after a stance verb", _VERB_CLAUSE),
        ("stacked clause openers", _STACKED),
        ("doubled article", _ARTICLES),
        ("doubled word", _DOUBLED_WORD),
        ("doubled or spaced punctuation", _DOUBLED_PUNCT),
        ("lower case after a full stop", _LOWER_AFTER_STOP),
        ("lower-case I", _LOWER_I),
        ('"a" before a vowel', _A_VOWEL),
        ("goal quoted as a label", _GOAL_LABEL),
    ):
        match = pattern.search(outside)
        if match:
            found.append(f"{name}: {match.group(0)!r}")
    if "{" in line or "}" in line:
        found.append("unfilled template field")
    return found
