"""Who heard what at one step of a branch, read from its timeline (the web UI's network view).

For the step asked: every message and action of that step with the agents it reached, the
agents' stances after the step, and each injection landed by then with who had heard it by
that step (wave by wave, and through whom for ``organic``). The audiences are computed as the
run computes them — :func:`aegntix.engine.observation.to_visible` for who an event is meant
for (addressees; an injection's strategy), narrowed by the recorded topology's
:class:`Visibility` — so no client re-derives the topology's rules.

Answers are cached (a 1,000-agent branch costs a fold of its timeline, ~0.5 s): the answer
for a step depends only on the branch's events up to that step, and a branch's past never
changes, so an entry stays valid while the last seq at or before that step is the one it
was computed from (events can still join the head step, e.g. an injection for it). A fork
has its own id, so it never reads its parent's entries (its steps after the fork differ).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from aegntix.engine.observation import to_visible
from aegntix.errors import InvalidRequest
from aegntix.model.events import EventKind
from aegntix.model.state import apply_event, empty_state
from aegntix.model.stored import scenario_of
from aegntix.swarm.recorded import recorded_topology
from aegntix.swarm.visibility import Visibility
from aegntix.timeline.store import Store


@dataclass(frozen=True, slots=True)
class Said:
    """A message or action of the step and who heard it (the speaker left out)."""

    seq: int
    kind: str  # message | action
    agent_id: str
    text: str
    to: list[str] | None  # addressees, when it was addressed
    hearers: list[str]  # file order


@dataclass(slots=True)
class Wave:
    """The agents who first heard an injection at ``step`` (``via``: who passed it on)."""

    seq: int
    step: int
    agents: list[str]
    via: str | None = None  # organic: the teller (an agent id, or "news"); else None


@dataclass(slots=True)
class Reach:
    """An injection landed at or before the step asked, and how far it had got by then."""

    seq: int  # the landing event
    step: int  # the step it landed at
    strategy: str
    text: str  # what was injected (organic: the plain text, not a teller's framing)
    waves: list[Wave] = field(default_factory=list)  # up to the step asked
    heard: list[str] = field(default_factory=list)  # everyone who had heard it, file order


@dataclass(frozen=True, slots=True)
class StepHearings:
    branch_id: str
    step: int
    head_step: int
    stances: dict[str, float]  # after the step, agents holding one
    said: list[Said]
    injections: list[Reach]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


#: Answers kept per database (the store's backend: a tenant's view shares it).
CACHE_SIZE = 64
_lock = threading.Lock()
_caches: weakref.WeakKeyDictionary[Any, OrderedDict[tuple[str, int], tuple[int, StepHearings]]]
_caches = weakref.WeakKeyDictionary()


def step_hearings(store: Store, branch_id: str, step: int | None = None) -> StepHearings:
    """Who heard what at ``step`` (default: the head step). Raises ``BranchNotFound``, and
    ``InvalidRequest`` for a step outside 0..head. The answer may be shared with other
    callers (cached): read it, do not change it."""
    branch = store.get_branch(branch_id)  # first: a tenant's view checks it may see it
    head = branch.head_step
    at = head if step is None else step
    if not 0 <= at <= head:
        raise InvalidRequest(f"step: {at} is outside this branch's steps (0..{head})")
    upto = branch.head_seq if at == head else store.seq_at_step(branch.id, at)
    cache = _cache_of(store)
    key = (branch.id, at)
    if cache is not None:
        with _lock:
            hit = cache.get(key)
            if hit is not None and hit[0] == upto:
                cache.move_to_end(key)
                return hit[1] if hit[1].head_step == head else replace(hit[1], head_step=head)
    found = _computed(store, branch.id, at, head, upto)
    if cache is not None:
        with _lock:
            cache[key] = (upto, found)
            cache.move_to_end(key)
            while len(cache) > CACHE_SIZE:
                cache.popitem(last=False)
    return found


def _cache_of(store: Store) -> OrderedDict[tuple[str, int], tuple[int, StepHearings]] | None:
    """The cache of ``store``'s database; None if it cannot be keyed (no weak reference)."""
    backend = getattr(store, "backend", store)
    with _lock:
        try:
            found = _caches.get(backend)
            if found is None:
                found = _caches[backend] = OrderedDict()
        except TypeError:
            return None
    return found


def _computed(store: Store, branch_id: str, at: int, head: int, upto: int) -> StepHearings:
    """The answer for ``at``, from the branch's first ``upto`` events (those up to ``at``)."""
    scenario = scenario_of(store, branch_id)
    seen = Visibility(scenario, recorded_topology(store, branch_id, scenario))
    everyone = [a.id for a in scenario.agents]
    order = {a: i for i, a in enumerate(everyone)}

    def in_order(ids: frozenset[str] | None) -> list[str]:
        return list(everyone) if ids is None else sorted(ids & order.keys(), key=order.__getitem__)

    state = empty_state()
    said: list[Said] = []
    reach: dict[int, Reach] = {}
    for ev in store.events(branch_id, to_seq=upto):
        apply_event(state, ev.kind, ev.step, ev.payload)
        visible = to_visible(ev.seq, ev.step, ev.kind, ev.agent_id, ev.payload)
        if visible is None:
            continue
        _, meant_for = visible
        audience = seen.audience(ev.kind, ev.agent_id, meant_for)
        if ev.kind == EventKind.INJECTION:
            _note_injection(reach, ev.seq, ev.step, ev.payload, in_order(audience))
        elif ev.step == at and ev.agent_id is not None:
            to = ev.payload.get("to")
            said.append(
                Said(
                    seq=ev.seq,
                    kind=str(ev.kind),
                    agent_id=ev.agent_id,
                    text=str(ev.payload.get("text", "")),
                    to=list(to) if to else None,
                    hearers=[h for h in in_order(audience) if h != ev.agent_id],
                )
            )
    for found in reach.values():
        found.heard = sorted({a for w in found.waves for a in w.agents}, key=order.__getitem__)
    stances = {
        k: float(v["stance"])
        for k, v in state["agents"].items()
        if isinstance(v, dict) and v.get("stance") is not None
    }
    return StepHearings(branch_id, at, head, stances, said, list(reach.values()))


def _note_injection(
    reach: dict[int, Reach], seq: int, step: int, payload: dict[str, Any], agents: list[str]
) -> None:
    """Add one injection event: a landing event opens a reach, a later wave
    (``wave.of``) extends the reach of the event it comes from."""
    wave = payload.get("wave")
    if isinstance(wave, dict) and wave.get("of") in reach:
        found = reach[wave["of"]]
        found.waves.append(Wave(seq, step, agents, wave.get("via")))
        return
    landed = Reach(
        seq=seq,
        step=step,
        strategy=str(payload.get("strategy") or "broadcast"),
        text=str(payload.get("told") or payload.get("content", "")),
    )
    # organic: the first hearers may have several tellers (a source's neighbours)
    first = [w for w in payload.get("waves") or () if w.get("offset") == 0 and w.get("via")]
    if first:
        landed.waves = [
            # the source as recorded is "news" or "agent:<id>"; an agent is named by its id
            Wave(
                seq,
                step,
                [a for a in agents if a in set(w["agents"])],
                str(w["via"]).removeprefix("agent:"),
            )
            for w in first
        ]
    else:
        landed.waves = [Wave(seq, step, agents)]
    reach[seq] = landed
