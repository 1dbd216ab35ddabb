"""Spreads still under way on a branch, read from its timeline: the runner feeds it every
event in order and, at the start of each step, writes what ``due`` returns before any
agent decides; each ``step_end`` names the spreads still open after it (``spreading``:
their landing events' seqs), so a runner rebuilt from the timeline (a resumed run, a fork)
reads those few events and finds the same waves due at the same steps."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aegntix.inject.registry import of_event
from aegntix.model.events import EventKind, NewEvent
from aegntix.model.state import STEP_END
from aegntix.timeline.store import Store

#: The ``step_end`` payload key naming the spreads still open after the step.
SPREADING = "spreading"


@dataclass(frozen=True, slots=True)
class _Landed:
    seq: int
    step: int
    last: int  # the last step a wave of it may be due
    payload: Mapping[str, Any]


def _ends_step(payload: Mapping[str, Any]) -> bool:
    return payload.get("type") == STEP_END


class Pending:
    def __init__(self) -> None:
        self._open: list[_Landed] = []

    def add(self, seq: int, step: int, kind: str, payload: Mapping[str, Any]) -> None:
        if kind != EventKind.INJECTION or any(s.seq == seq for s in self._open):
            return
        span = of_event(payload).span(payload)
        if span > 0:
            self._open.append(_Landed(seq, step, step + span, payload))

    def load(self, store: Store, branch_id: str, events: Sequence[Any]) -> None:
        """Feed ``events`` (the tail a runner read, from at least its last completed step),
        and read the landing events the last ``step_end`` among them names."""
        ends = [e for e in events if e.kind == EventKind.SYSTEM and _ends_step(e.payload)]
        seen = {e.seq for e in events}
        for seq in ends[-1].payload.get(SPREADING, ()) if ends else ():
            if seq not in seen:
                self.extend(store.events(branch_id, from_seq=seq, to_seq=seq))
        self.extend(events)

    def still_open(self, step: int) -> list[int]:
        """The landing seqs of spreads with waves due after ``step`` (for its step_end)."""
        return [s.seq for s in self._open if s.last > step]

    def extend(self, events: Iterable[Any]) -> None:
        for e in events:
            self.add(e.seq, e.step, e.kind, e.payload)

    def due(self, step: int) -> list[NewEvent]:
        """The injection events to write at ``step``, in the order their spreads landed."""
        self._open = [s for s in self._open if s.last >= step]
        return [
            NewEvent(step, EventKind.INJECTION, payload)
            for s in self._open
            for payload in of_event(s.payload).due(s.payload, s.seq, s.step, step)
        ]
