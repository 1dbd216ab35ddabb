"""Small word lists and string repairs shared by the topic and goal readers and the speech
templates: which words are verbs, determiners, auxiliaries; sentence tidying."""

from __future__ import annotations

import re


def words_in(text: str) -> frozenset[str]:
    """A word list written as one string."""
    return frozenset(text.split())


_words = words_in


#: Words that open a noun phrase: "the plan", "no tax rise", "a safe park".
DETERMINERS = _words(
    """
    the a an this that these those my our their his her its your every each some any no
    all more less fewer most several many much both either neither another other such
    """
)
#: Adjectives that often open a goal written as a noun phrase ("better schools").
NOUN_ADJECTIVES = _words(
    """
    better lower higher cheaper safer healthier fair fairer cleaner greener stronger quicker
    faster bigger smaller new good great safe clean green affordable reliable
    """
)
PRONOUNS = _words("i we you they he she it everyone everybody someone nobody anyone")
#: Auxiliaries and copulas: a word of these after a subject makes a clause.
AUXILIARIES = _words(
    """
    is are was were will would should shall can could must may might has have had does do did
    isn't aren't wasn't weren't won't wouldn't shouldn't can't couldn't mustn't hasn't haven't
    doesn't don't didn't
    """
)
MODALS = _words("should shall will would can could must may might")
WH_WORDS = _words("what which who whom whose how why when where")
#: Common verbs in their bare form: an imperative goal or topic opens with one.
VERBS = _words(
    """
    accept achieve add adopt agree allow approve argue avoid back ban be become begin block
    boost bring build buy calm cancel cap change charge check choose clean close collect
    complete contain continue convert convince cover create cut deal decide defend deliver
    delay deny do drop earn ease end ensure evict expand explain extend file find finish fix
    force fund gain get give go grow guarantee have help hire hold improve increase invest
    keep kill land launch leave let limit lower maintain make manage meet merge move negotiate
    notify open pass pay persuade plant preserve prevent promote protect prove provide pull
    push put raise reach rebuild recover reduce reform reject remove repair replace restore
    retain return reverse run save secure sell send serve settle share shut sign slow spend
    start stay stop strengthen support take tax tell test turn understand use vote win work
    """
)
#: Words that end a subject after a copula or modal ("is the plan | worth it").
PREDICATE_STARTS = (
    _words(
        """
        too very really worth guilty innocent responsible likely unlikely enough more less
        better worse safe unsafe ready able right wrong to a an the not necessary needed fair
        affordable possible legal true false good bad still already in on at for
        """
    )
    | VERBS
)
TITLES = _words(
    """
    mayor dr dr. mr mr. mrs mrs. ms ms. prof prof. professor sir dame judge officer captain
    chief councillor councilor senator governor president minister inspector detective
    sergeant father sister rev rev. reverend
    """
)

_SPACES = re.compile(r"\s+")
_SPACE_BEFORE = re.compile(r"\s+([,.;:!?])")
_DOUBLE_STOP = re.compile(r"([.!?…])[.,;:]+|([,;:])[.,;:]+")
_AFTER_STOP = re.compile(r"([.!?] )([a-z])")
# Whenever either substitution would change a text, this finds something in it (a match of
# either ends in one of these two-character shapes), so it gates them without changing the
# result; without letters or word boundaries it is a plain scan (a "the the" alternative
# cost 4x the search and gated nothing the two substitutions act on).
_SUSPECT = re.compile(r"\s[,.;:!?]|[.!?…,;:][.,;:]")


def lower_first(text: str) -> str:
    """Lower-case the first letter, unless the first word is an acronym ("CISO")."""
    if len(text) > 1 and text[:2].isupper():
        return text
    return text[:1].lower() + text[1:]


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def tidy(text: str) -> str:
    """A finished utterance: single spaces, no space before punctuation, no doubled
    punctuation, a capital after each full stop, a final stop. (Doubled words in a topic
    or goal are dropped when it is read: ``undoubled``.)"""
    if "  " in text or "\n" in text or "\t" in text:
        text = _SPACES.sub(" ", text)
    text = text.strip()
    if _SUSPECT.search(text):  # rare: one search instead of two substitutions
        text = _SPACE_BEFORE.sub(r"\1", text)
        text = _DOUBLE_STOP.sub(lambda m: m.group(1) or m.group(2), text)
    text = _AFTER_STOP.sub(lambda m: m.group(1) + m.group(2).upper(), text)
    text = capital(text)
    if text and text[-1] not in ".!?…":
        text += "."
    return text


def undoubled(words: list[str]) -> list[str]:
    """Drop a word that repeats the one before it ("the the plan")."""
    return [w for i, w in enumerate(words) if i == 0 or w.lower() != words[i - 1].lower()]


def with_article(a_or_an: str, words: str) -> str:
    """ "a resident" / "an engineer"."""
    article = "an" if a_or_an == "a" and words[:1].lower() in "aeiou" and words else a_or_an
    return f"{article} {words}"


def third_to_first(verb: str) -> str:
    """ "wants" -> "want", "is" -> "am", "has" -> "have", "carries" -> "carry"."""
    lowered = verb.lower()
    special = {"is": "am", "has": "have", "does": "do", "was": "was", "goes": "go"}
    if lowered in special:
        return special[lowered]
    if lowered.endswith("ies") and len(lowered) > 4:
        return lowered[:-3] + "y"
    if lowered.endswith(("shes", "ches", "sses", "xes", "zes")):
        return lowered[:-2]
    if lowered.endswith("s") and not lowered.endswith("ss"):
        return lowered[:-1]
    return lowered
