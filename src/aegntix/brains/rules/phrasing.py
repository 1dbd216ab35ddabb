"""Pieces of sentences: prices, roles, names, and short citations of what was heard (a
clause of a message, the news, a colleague's move)."""

from __future__ import annotations

import re
from functools import lru_cache

from aegntix.brains.base import Observation
from aegntix.brains.rules.signals import ACTION, INJECTION, Heard, number
from aegntix.brains.rules.stances import reported
from aegntix.brains.rules.topic import mentions, read_topic
from aegntix.brains.rules.wording import TITLES, lower_first, with_article, words_in
from aegntix.model.scenario import ActionSpec

SNIPPET_WORDS = 8
SNIPPET_CHARS = 80
GOAL_CHARS = 160
#: Roles one person holds: "as the mayor", never "as a mayor".
OFFICES = words_in(
    """
    mayor chair chairman chairwoman chairperson moderator mediator judge ceo cfo cto ciso
    president governor commander host prosecutor defendant treasurer secretary principal
    """
)
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”")
_CLAUSE = re.compile(r"[;:!?—–]+|[.,](?!\d)")
#: How our own templates open a clause: not worth quoting back.
_FRAMING = (
    "given", "after", "speaking as", "as the", "as a", "as an", "i hear you", "let me",
    "taking action", "understood", "deal", "agreed", "let's", "glad", "that settles",
    "is a fair point", "but ", "and ", "which ", "my goal", "for me", "i'm ", "i ",
    "my ", "what i", "on balance", "here's", "for what it's worth", "frankly", "to be plain",
    "fair enough", "that's one way", "still", "in light of", "to answer", "look", "next step",
    "right", "thanks", "noted", "my move", "here's", "that news", "you said", "with respect",
    "nothing i've", "that doesn't", "that matches", "that weighs", "that gives", "you've",
    "you're", "whatever",
)  # fmt: skip


def price(value: float) -> str:
    """A price as people say it: thousands separated, cents only for small amounts."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def role_in(observation: Observation, usual: str = "the") -> str:
    """The agent's role with the article it deserves: ``usual`` ("the seller", "a shop
    owner"), but "a" when several in the roster share the role and "the" for an office
    only one person holds ("the mayor")."""
    agent = observation.agent
    shared = 0
    for other in observation.roster.values():
        if other.role == agent.role:
            shared += 1
    return _role_with_article(agent.role, usual, shared > 1)


@lru_cache(maxsize=1024)
def _role_with_article(role_text: str, usual: str, shared: bool) -> str:
    words = lower_first(role_text.strip()) or "participant"
    if words.split()[0].lower() in {"the", "a", "an", "my", "our"}:
        return words
    if shared:
        return with_article("a", words)
    return with_article("the" if words.split()[-1].lower() in OFFICES else usual, words)


def first_name(observation: Observation, agent_id: str | None) -> str:
    """How to address someone: the first word of their name that is not a title."""
    spec = observation.roster.get(agent_id) if agent_id else None
    return _first_name(spec.name if spec is not None else (agent_id or ""))


@lru_cache(maxsize=4096)
def _first_name(name: str) -> str:
    words = name.split()
    for word in words[:-1]:
        if word.lower().rstrip(".") not in TITLES and word.lower() not in TITLES:
            return word
    return words[-1] if words else name


def snippet(text: str, words: int = SNIPPET_WORDS) -> str:
    """The first few words of ``text``, trimmed of trailing punctuation."""
    parts = text.split()
    short = " ".join(parts[:words]).strip(" .,;:!?\"'")
    if len(short) > SNIPPET_CHARS:
        return short[:SNIPPET_CHARS].rstrip() + "…"
    return short + ("…" if len(parts) > words else "")


def gist(text: str) -> str:
    """The clause of ``text`` worth quoting: quotes inside it and clauses that only frame
    ("As the seller", "Given …") are skipped, so replies do not nest quotes; "" when no
    clause is worth it."""
    plain = _QUOTED.sub("", text)
    for part in _CLAUSE.split(plain):
        clause = part.strip()
        words = clause.split()
        if len(words) >= 3 and "…" not in clause and not clause.lower().startswith(_FRAMING):
            return snippet(clause)
    return ""


def news(text: str) -> str:
    """An injection's words without a leading label ("Breaking: …", "Update - …")."""
    label, colon, rest = text.partition(":")
    if colon and rest.strip() and len(label.split()) <= 2:
        text = rest
    return snippet(text)


def describe(act: str, spec: ActionSpec | None) -> str:
    """An action as a verb phrase: its description, else its name in words."""
    text = spec.description.strip().rstrip(".") if spec is not None else ""
    if len(text) > GOAL_CHARS:
        text = text[:GOAL_CHARS].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"
    return lower_first(text) if text else act.replace("_", " ").replace("-", " ")


def reference(observation: Observation, heard: Heard | None, hearing: bool = False) -> str:
    """How to cite what was heard: 'Lee Park says "…"' (``hearing``: 'hearing Lee Park say
    "…"'), 'the news that …', or "Alex Kim's move to …" for an action."""
    if heard is None:
        return ""
    if heard.kind == INJECTION or not heard.speaker:
        return f"the news that {lower_first(news(heard.text))}"
    if heard.kind == ACTION:
        act = heard.fields.get("action") if heard.fields else None
        if isinstance(act, str):
            return f"{heard.speaker}'s move to {describe(act, observation.actions.get(act))}"
    quoted = gist(heard.text)
    stance = number(heard.fields.get("stance")) if heard.fields else None
    if stance is not None and (not quoted or mentions(read_topic(observation.topic), heard.text)):
        # a stance said in so many words: paraphrase rather than echo the topic
        said = f"{heard.speaker} {reported(stance)}"
        return f"hearing that {said}" if hearing else said
    if not quoted:
        return f"hearing what {heard.speaker} said" if hearing else f"what {heard.speaker} said"
    if hearing:
        return f'hearing {heard.speaker} say "{quoted}"'
    return f'{heard.speaker} says "{quoted}"'
