"""What the debate is about, read from the scenario's ``topic`` so every template can say it
grammatically.

A topic is one of:

- a **noun phrase** ("the flood-barrier plan", "a four-day week", "raising taxes"): said as
  written ("I oppose the flood-barrier plan"); a bare singular noun gets "the";
- a **claim** ("Alex Marsh is guilty of arson", "whether Alex Marsh is guilty", "if we should
  raise taxes", "should the town build the barrier?", "to raise taxes", "build the
  barrier"): said as a clause ("I don't believe Alex Marsh is guilty of arson"); questions
  are turned into statements when the subject can be found, imperatives and infinitives
  become "we should …";
- a **question** the reader cannot turn into a statement ("does the plan work?"): answered
  yes or no;
- nothing usable (empty, too long, an open "how/what" question): "the proposal".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from aegntix.brains.rules.wording import (
    AUXILIARIES,
    DETERMINERS,
    MODALS,
    PREDICATE_STARTS,
    PRONOUNS,
    VERBS,
    WH_WORDS,
    capital,
    lower_first,
    undoubled,
)

MAX_CHARS = 90
NOUN = "noun"
CLAIM = "claim"
QUESTION = "question"
_FALLBACK = "the proposal"
_STRIP = " \t\n.,;:!\"'“”‘’()[]"
_ABSTRACT = ("ion", "ism", "ity", "ing", "ment", "ness", "ance", "ence", "cy", "ics")
_RELATIVE = frozenset({"that", "which", "who", "where", "whose", "whom", "to", "of", "for"})
_MAX_SUBJECT = 5
_OR_NOT = re.compile(r",? or not$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Topic:
    """How to say the topic. ``kind``: noun / claim / question; ``text`` the noun phrase,
    the claim (a clause) or the question (without its "?"); ``short`` what to call it
    again ("the plan", "it")."""

    kind: str
    text: str
    short: str


def _lower_opening(words: list[str]) -> list[str]:
    """Lower-case a capitalised first word unless it may be a name (two capitalised words,
    "Alex Marsh") or an acronym."""
    if not words:
        return words
    first = words[0]
    if first.lower() in DETERMINERS | PRONOUNS | AUXILIARIES | WH_WORDS | VERBS - {"i"} or (
        first.lower() in {"whether", "if", "that", "to"}
    ):
        return [lower_first(first), *words[1:]]
    second_capital = len(words) > 1 and words[1][:1].isupper()
    if len(words) > 1 and not first.lower().endswith(("s", "ing")):
        second = words[1].lower()
        verb = second.endswith("ed") or (second.endswith("s") and not second.endswith("ss"))
        if second in AUXILIARIES or verb:
            return words  # "Alex is guilty", "Alex lied": a name
    plain = first[:1].isupper() and not second_capital and first[1:2].islower()
    if plain and (first.lower().endswith("ing") or len(words) > 1):
        return [lower_first(first), *words[1:]]
    return words


def _invert(aux: str, rest: list[str]) -> str | None:
    """ "should" + "the town build the barrier" -> "the town should build the barrier";
    None when the subject's end is not clear."""
    if not rest:
        return None
    first = rest[0].lower()
    if first in PRONOUNS:
        end = 1
    elif rest[0][:1].isupper():
        end = 1
        while end < len(rest) and rest[end][:1].isupper():
            end += 1
    elif first in DETERMINERS:
        end = 2
        while end < len(rest) and rest[end].lower() not in PREDICATE_STARTS:
            if rest[end - 1].endswith(","):
                return None
            end += 1
            if end > _MAX_SUBJECT:
                return None
        if aux in MODALS and (end >= len(rest) or rest[end].lower() not in VERBS):
            return None
    else:
        return None
    if end >= len(rest):
        return None
    subject = " ".join(rest[:end])
    subject = "I" if subject.lower() == "i" else subject
    return f"{subject} {aux} {' '.join(rest[end:])}"


def _is_clause(words: list[str]) -> bool:
    """A subject then an auxiliary ("taxes should rise", "Alex Marsh is guilty"), or a name
    then a past or present verb ("Alex Marsh lied", "Alex Marsh started the fire")."""
    for word in words[1:]:
        lowered = word.lower()
        if lowered in _RELATIVE:
            return False
        if lowered in AUXILIARIES:
            return True
    names = 0
    while names < len(words) and words[names][:1].isupper():
        names += 1
    if 0 < names < len(words) and not words[names - 1].endswith("'s"):
        verb = words[names].lower()
        return verb.endswith("ed") or (verb.endswith("s") and not verb.endswith("ss"))
    return False


def _noun(words: list[str]) -> Topic:
    first = words[0].lower()
    last = words[-1].lower()
    bare = (
        first not in DETERMINERS
        and not words[0][:1].isupper()
        and not first.endswith("ing")
        and not (last.endswith("s") and not last.endswith("ss"))
    )
    if bare and (len(words) > 1 or not last.endswith(_ABSTRACT)):
        words = ["the", *words]
    text = " ".join(words)
    if words[0].lower() in {"the", "this", "our", "their"} and len(words) > 2:
        short = f"the {words[-1]}" if words[-1][:1].islower() else "it"
    else:
        short = "it"
    return Topic(NOUN, text, short)


@lru_cache(maxsize=1024)
def read_topic(raw: str) -> Topic:
    """Classify and normalise a scenario topic (cached: topics repeat every decision)."""
    text = " ".join(raw.split())
    question = text.rstrip(_STRIP).endswith("?")
    text = _OR_NOT.sub("", text.strip(_STRIP + "?¿")).strip(_STRIP)
    if not text or len(text) > MAX_CHARS:
        return Topic(NOUN, _FALLBACK, "it")
    words = _lower_opening(undoubled(text.split()))
    first = words[0].lower()
    if first in {"whether", "if"}:
        rest = words[1:]
        if rest[:2] == ["or", "not"]:
            rest = rest[2:]
        if rest[:1] == ["to"] and len(rest) > 1:
            return Topic(CLAIM, "we should " + " ".join(rest[1:]), "it")
        return _claim(rest) if rest else Topic(NOUN, _FALLBACK, "it")
    if first == "that" and len(words) > 2:
        return Topic(CLAIM, " ".join(words[1:]), "it")
    if first == "to" and len(words) > 1:
        return Topic(CLAIM, "we should " + " ".join(words[1:]), "it")
    if first in WH_WORDS:
        return Topic(NOUN, _FALLBACK, "it")
    if first in AUXILIARIES:
        statement = _invert(first, words[1:])
        if statement is not None:
            return Topic(CLAIM, statement, "it")
        return Topic(QUESTION, capital(" ".join(words)), "it")
    if first in VERBS and len(words) > 1 and words[1].lower() in DETERMINERS | PRONOUNS:
        return Topic(CLAIM, "we should " + " ".join(words), "it")  # "build the barrier"
    if _is_clause(words):
        return Topic(CLAIM, " ".join(words), "it")
    if question:
        return Topic(QUESTION, capital(" ".join(words)), "it")
    return _noun(words)


def _claim(words: list[str]) -> Topic:
    """After "whether": a statement already ("whether Alex is guilty"), or a question in
    statement order once inverted ("whether should we …", rare but seen)."""
    if words[0].lower() in AUXILIARIES:
        statement = _invert(words[0].lower(), words[1:])
        if statement is not None:
            return Topic(CLAIM, statement, "it")
    return Topic(CLAIM, " ".join(words), "it")


def mentions(topic: Topic, text: str) -> bool:
    """Whether ``text`` names the topic (in its full or short form)."""
    lowered = text.lower()
    return topic.text.lower() in lowered or (topic.short != "it" and topic.short.lower() in lowered)
