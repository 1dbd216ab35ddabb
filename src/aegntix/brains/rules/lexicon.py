"""Tiny word lists and scorers: the valence of a text toward "the proposal", and whether a
text applies negotiation pressure or leverage. Pure functions of the text (cached)."""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _phrases(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


#: Words that speak for the proposal / topic.
SUPPORTIVE = _words(
    """
        benefit benefits beneficial improve improves improved improvement safe safer safety
        save saves saving savings success successful succeed jobs growth grow gain gains
        good great better best support supports supported approve approved endorse endorses
        help helps helpful protect protects protection win wins works effective affordable
        cheaper opportunity progress popular healthy clean cleaner strong stronger resilient
        worth favour favor positive boost boosts thrive prosper fair
    """
)
#: Words that speak against it.
OPPOSING = _words(
    """
        risk risks risky cost costs costly expensive harm harms harmful danger dangerous
        fail fails failed failure flood floods flooding debt loss losses lose bad worse
        worst oppose opposes opposed against reject rejects rejected waste wasteful damage
        damages unsafe threat threatens crisis problem problems scandal corrupt fraud
        pollution polluted toxic delay delays overrun overruns burden unfair negative
        collapse broken layoffs decline disaster controversial protest protests victims
    """
)
#: Words that flip the next valenced word within a short scope ("not safe", "cuts costs").
NEGATORS = _words(
    """
        not no never without hardly neither nor cannot reduce reduces reduced reducing cut
        cuts lower lowers prevent prevents avoid avoids less fewer stop stops end ends
        eliminate eliminates minimise minimize lack lacks
    """
)
_NEGATION_SCOPE = 4
#: Supportive words that also flip the harm that follows ("saves on flood damage").
GUARDS = _words("save saves saving protect protects protecting shield shields guard guards")
#: Words that end a negator's scope ("not cheap, but safe").
_CONTRAST = frozenset({"but", "however", "although", "though", "yet", "while"})

#: Phrases that push a negotiator to concede faster.
PRESSURE = _phrases(
    """
        deadline, competing offer, competitor, urgent, urgently, walk away, walking away,
        budget cut, budget cuts, cash flow, running out, last chance, final offer,
        time is running out, out of time, expires, expiring, ultimatum, board wants,
        must close, need to close, close this week, close today, pressure, desperate,
        layoffs, losing money, cheaper alternative, asap
    """
)
#: Phrases that make a negotiator firmer.
LEVERAGE = _phrases(
    """
        leverage, other buyers, other sellers, other bidders, strong demand, high demand,
        multiple offers, backup offer, better alternative, no rush, plenty of time,
        in demand, market is hot, scarce, sold out, waiting list, batna, alternative offer,
        hold firm, stand firm, don't budge
    """
)


def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    ordered = sorted(phrases, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(re.escape(p) for p in ordered) + r")\b")


_PRESSURE_RE = _phrase_pattern(PRESSURE)
_LEVERAGE_RE = _phrase_pattern(LEVERAGE)


@lru_cache(maxsize=8192)
def tokens(text: str) -> tuple[str, ...]:
    """Lower-case words of ``text`` (apostrophes kept inside words: "isn't")."""
    return tuple(_WORD.findall(text.lower()))


def _is_negator(word: str) -> bool:
    return word in NEGATORS or word.endswith("n't")


@lru_cache(maxsize=8192)
def valence(text: str) -> float:
    """How much ``text`` speaks for (+) or against (-) the proposal, in [-1, 1].

    Each supportive word counts +1 and each opposing word -1, flipped when a negator or a
    reducer ("not safe", "cuts flooding risk") precedes it by at most four words (a "but"
    ends the flip); the sum is
    divided by the number of valenced words, so mixed texts land near 0.
    """
    total = 0
    count = 0
    since_negator = since_guard = _NEGATION_SCOPE + 1
    for word in tokens(text):
        since_negator += 1
        since_guard += 1
        if _is_negator(word):
            since_negator = 0
        elif word in GUARDS:  # good in itself, and it turns the harm that follows
            total += 1
            count += 1
            since_guard = 0
        elif word in _CONTRAST:
            since_negator = since_guard = _NEGATION_SCOPE + 1
        elif word in SUPPORTIVE:
            total += -1 if since_negator <= _NEGATION_SCOPE else 1
            count += 1
        elif word in OPPOSING:
            flipped = since_negator <= _NEGATION_SCOPE or since_guard <= _NEGATION_SCOPE
            total += 1 if flipped else -1
            count += 1
    return total / count if count else 0.0


def _saturating(hits: int) -> float:
    # one phrase 0.6, two 0.84, three 0.94...: more signals, more certain, never above 1
    return 1.0 - 0.4**hits if hits else 0.0


@lru_cache(maxsize=8192)
def pressure(text: str) -> float:
    """How strongly ``text`` urges a faster deal, in [0, 1]."""
    return _saturating(len(_PRESSURE_RE.findall(text.lower())))


@lru_cache(maxsize=8192)
def leverage(text: str) -> float:
    """How strongly ``text`` tells a negotiator it can hold out, in [0, 1]."""
    return _saturating(len(_LEVERAGE_RE.findall(text.lower())))


_SUFFIXES = ("ing", "ion", "ed", "es", "s", "e")


def stem(word: str) -> str:
    """A crude suffix-stripping stem, enough to match "isolate" with "isolating"."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


@lru_cache(maxsize=8192)
def stems(text: str) -> str:
    """The stemmed words of ``text`` joined by single spaces and padded with spaces, so a
    phrase ``" isolat host "`` is found with ``in``."""
    return " " + " ".join(stem(w) for w in tokens(text)) + " "
