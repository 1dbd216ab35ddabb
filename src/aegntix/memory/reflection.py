"""Consolidation: when enough has happened, an agent distils insights from its memories.

Reflection triggers when the importance of the memories formed since the last one reaches the
scenario's ``memory.reflect_threshold``. The rules version writes deterministic summaries —
how the agent's own stance moved, where it stands with the others it heard most from (their
stances or offers), and the most important thing it heard — each citing the memories it rests
on. Insights are memories of kind ``reflection`` (the semantic tier).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aegntix.memory.records import Memory, MemoryKind, amount

MAX_CITES = 6


@dataclass(frozen=True, slots=True)
class Insight:
    text: str
    cites: tuple[str, ...]
    importance: float
    scored_by: str = "rules"


@dataclass(frozen=True, slots=True)
class Standing:
    """What the reflecting agent knows about another agent right now."""

    name: str
    stance: float | None
    offer: float | None


def importance_of(cited: Sequence[Memory]) -> float:
    """An insight weighs one more than the weightiest memory it rests on (6 with none)."""
    if not cited:
        return 6.0
    return float(min(10, round(max(m.importance for m in cited)) + 1))


def _top(memories: Sequence[Memory]) -> tuple[str, ...]:
    ranked = sorted(memories, key=lambda m: (-m.importance, m.time, m.ref))
    return tuple(m.ref for m in ranked[:MAX_CITES])


def rules_reflection(
    memories: Sequence[Memory],
    *,
    topic: str,
    since_step: int,
    step: int,
    stance_then: float | None,
    stance_now: float | None,
    speakers: Mapping[str, str],
    standings: Mapping[str, Standing],
) -> list[Insight]:
    """Up to four insights from ``memories`` (formed since the last reflection).
    ``speakers`` maps an observation memory's ref to the id of the agent it came from."""
    by_ref = {m.ref: m for m in memories}
    insights: list[Insight] = []
    subject = topic or "the question"
    own = [m for m in memories if m.kind == MemoryKind.ACTION]
    if stance_now is not None:
        # what it said on the matter, or if it kept quiet, what it heard
        cited = [by_ref[r] for r in _top(own or memories)]
        if stance_then is not None and abs(stance_now - stance_then) >= 0.05:
            direction = "towards" if stance_now > stance_then else "against"
            text = (
                f"Between steps {since_step} and {step} my view on {subject} moved {direction} "
                f"it, from {stance_then:+.2f} to {stance_now:+.2f}."
            )
        else:
            text = (
                f"I have held my position on {subject} ({stance_now:+.2f}) since step {since_step}."
            )
        insights.append(Insight(text, tuple(m.ref for m in cited), importance_of(cited)))

    heard: dict[str, list[Memory]] = defaultdict(list)
    for m in memories:
        who = speakers.get(m.ref)
        if who is not None and who in standings:
            heard[who].append(m)
    ranked = sorted(heard, key=lambda a: (-sum(m.importance for m in heard[a]), a))
    for other in ranked[:2]:
        them = standings[other]
        cited = [by_ref[r] for r in _top(heard[other])]
        if them.offer is not None:
            text = (
                f"{them.name} now stands at an offer of {amount(them.offer)}; "
                f"I heard from them {len(heard[other])} time(s)."
            )
        elif them.stance is not None and stance_now is not None:
            gap = abs(them.stance - stance_now)
            relation = "largely agree" if gap <= 0.3 else "disagree" if gap >= 0.8 else "differ"
            text = (
                f"{them.name} and I {relation} on {subject} "
                f"({them.stance:+.2f} against my {stance_now:+.2f})."
            )
        else:
            text = f"{them.name} spoke to this {len(heard[other])} time(s) since step {since_step}."
        insights.append(Insight(text, tuple(m.ref for m in cited), importance_of(cited)))

    outside = [m for m in memories if m.kind != MemoryKind.ACTION]
    if outside:
        key = max(outside, key=lambda m: (m.importance, -m.time, m.ref))
        snippet = key.text if len(key.text) <= 160 else key.text[:157] + "..."
        insights.append(
            Insight(f"What mattered most lately: {snippet}", (key.ref,), importance_of([key]))
        )
    return insights
