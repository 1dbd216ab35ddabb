"""Pieces of sentences: prices, roles, goals, names, and short citations of what was heard
(a clause of a message, the news, a colleague's move)."""

from __future__ import annotations

import re

from aegntix.brains.base import Observation
from aegntix.brains.rules.signals import ACTION, INJECTION, Heard, number
from aegntix.model.scenario import ActionSpec, AgentSpec

SNIPPET_WORDS = 8
SNIPPET_CHARS = 80
GOAL_CHARS = 160
_VOWELS = frozenset("aeiouAEIOU")
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”")
_CLAUSE = re.compile(r"[;:!?—–]+|[.,](?!\d)")
#: How our own templates open a clause: not worth quoting back.
_FRAMING = (
    "given", "after", "speaking as", "as the", "as a", "as an", "i hear you", "let me",
    "taking action", "understood", "deal", "agreed", "let's", "glad", "that settles",
    "is a fair point", "but ", "and ", "which ", "my goal", "for me",
)  # fmt: skip
#: First words that mark a goal as a noun phrase ("a safe park"), not an imperative.
_NOUN_START = frozenset(
    (
        "a", "an", "the", "no", "more", "less", "fewer", "my", "our", "their", "some", "any",
        "every", "better", "lower", "higher", "cheaper", "safer", "healthier", "fair", "fairer",
    )
)  # fmt: skip


def price(value: float) -> str:
    """A price as people say it: thousands separated, cents only for small amounts."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def lower_first(text: str) -> str:
    # keep acronyms ("CISO", "IT lead") as written
    if len(text) > 1 and text[:2].isupper():
        return text
    return text[:1].lower() + text[1:]


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def role(agent: AgentSpec, article: str = "the") -> str:
    """``the seller`` / ``a resident`` / ``an engineer`` from the agent's role."""
    words = lower_first(agent.role.strip()) or "participant"
    if words.split()[0].lower() in {"the", "a", "an", "my", "our"}:
        return words
    if article == "a" and words[:1] in _VOWELS:
        article = "an"
    return f"{article} {words}"


def goal(agent: AgentSpec) -> str:
    """The agent's first goal, read as an imperative ("keep taxes low")."""
    text = agent.goals[0].strip().rstrip(".!") if agent.goals else ""
    if len(text) > GOAL_CHARS:
        text = text[:GOAL_CHARS].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"
    return lower_first(text) if text else "get this right"


def aim(agent: AgentSpec) -> str:
    """The goal as a verb phrase: "keep taxes low" as written, "a safe park" as "see a
    safe park" (so "I'm here to …" reads either way)."""
    text = goal(agent)
    first = text.split()[0].lower() if text.split() else ""
    return f"see {text}" if first in _NOUN_START else text


def stance_words(stance: float, third_person: bool = False) -> str:
    """ "strongly support", "support", "am still undecided about", "oppose"... (or the
    third-person form, "supports")."""
    if stance >= 0.6:
        words = "strongly support"
    elif stance >= 0.2:
        words = "support"
    elif stance > -0.2:
        return "is undecided about" if third_person else "am still undecided about"
    elif stance > -0.6:
        words = "oppose"
    else:
        words = "strongly oppose"
    return words + "s" if third_person else words


def topic(observation: Observation) -> str:
    text = observation.topic.strip().rstrip(".")
    if not text or len(text) > 60 or text.endswith("?"):
        return "the proposal"
    return lower_first(text)


def first_name(observation: Observation, agent_id: str | None) -> str:
    """How to address someone: the first word of their name."""
    spec = observation.roster.get(agent_id) if agent_id else None
    name = spec.name.strip() if spec is not None else (agent_id or "")
    return name.split()[0] if name.split() else name


def snippet(text: str, words: int = SNIPPET_WORDS) -> str:
    """The first few words of ``text``, trimmed of trailing punctuation."""
    parts = text.split()
    short = " ".join(parts[:words]).strip(" .,;:!?\"'")
    if len(short) > SNIPPET_CHARS:
        return short[:SNIPPET_CHARS].rstrip() + "…"
    return short + ("…" if len(parts) > words else "")


def gist(text: str) -> str:
    """The clause of ``text`` worth quoting: quotes inside it and clauses that only frame
    ("As the seller", "Given …") are skipped, so replies do not nest quotes."""
    plain = _QUOTED.sub("", text)
    for part in _CLAUSE.split(plain):
        clause = part.strip()
        words = clause.split()
        if len(words) >= 3 and "…" not in clause and not clause.lower().startswith(_FRAMING):
            return snippet(clause)
    return snippet(plain.strip() or text)


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
        return f"the news that {lower_first(snippet(heard.text))}"
    if heard.kind == ACTION:
        act = heard.fields.get("action") if heard.fields else None
        if isinstance(act, str):
            return f"{heard.speaker}'s move to {describe(act, observation.actions.get(act))}"
    quoted = gist(heard.text)
    stance = number(heard.fields.get("stance")) if heard.fields else None
    if stance is not None and topic(observation).lower() in heard.text.lower():
        # a stance said in so many words: paraphrase rather than echo the topic
        said = f"{heard.speaker} {stance_words(stance, third_person=True)} it"
        return f"hearing that {said}" if hearing else said
    if hearing:
        return f'hearing {heard.speaker} say "{quoted}"'
    return f'{heard.speaker} says "{quoted}"'
