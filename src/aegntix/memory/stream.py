"""The memory stream of a run: what each agent remembers, recalls and distils, per branch.

One :class:`MemoryStream` per :class:`~aegntix.engine.runner.Runner`. It is rebuilt from the
branch's own timeline (its lineage's ``memory`` events up to the fork point, then its own) and
the persistent agents' committed memories at the version the scenario pinned — so a branch
sees exactly its lineage's memories and never a sibling's (invariant 5), and a fork with no
injection recalls, reflects and drifts exactly as its parent did (invariant 3).

Each decision: :meth:`recall` ranks the agent's recallable memories (long-term, semantic and
the short-term window of the last ``short_term`` episodic ones) by recency, importance and
relevance to the situation and fills the text budget; after it, :meth:`after_decision` turns
what the agent newly saw and did into memories, reflects when their importance adds up, and
adapts the persona — returning the events to record.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from aegntix.brains.base import (
    RUNTIME_META_KEYS,
    Decision,
    Observation,
    ReflectionRequest,
    Reflector,
)
from aegntix.mechanics import Mechanics, mechanics_of
from aegntix.memory.embedding import CachedEmbedder, Embedder, shared_embedder
from aegntix.memory.forming import (
    acted_entry,
    as_memories,
    initial_position,
    observed_entry,
    position,
    situation,
    speakers_of,
    standings,
    valenced,
)
from aegntix.memory.index import NumpyIndex, RetrievalWeights, Scored
from aegntix.memory.persona import adapt, experience
from aegntix.memory.records import (
    Memory,
    MemoryKind,
    Recall,
    StepMemory,
    formed_memories,
    lived_offset,
    traits_of,
)
from aegntix.memory.reflection import Insight, importance_of, rules_reflection
from aegntix.model.events import Event, EventKind, NewEvent
from aegntix.model.scenario import AgentSpec, MemoryConfig, Scenario
from aegntix.model.state import State
from aegntix.swarm.visibility import Visibility


def _round(x: float) -> float:
    return round(float(x), 6)


class AgentMemory:
    """One agent's memories in one run."""

    def __init__(
        self,
        agent: AgentSpec,
        config: MemoryConfig,
        embedder: Embedder,
        offset: float,
        mechanics: Mechanics | None = None,
    ) -> None:
        self.agent = agent
        self.config = config
        self.embedder = embedder
        self.offset = offset
        self.by_ref: dict[str, Memory] = {}
        # small to start (an idle scenario stays small); capacity doubles as memories come
        self.lasting = NumpyIndex(embedder.dim, capacity=16)  # long-term and semantic
        self.recent = NumpyIndex(embedder.dim, capacity=16)  # episodic; last N: short-term
        self._recent_refs: list[str] = []  # in insertion order (index positions)
        self._recent_vectors: list[np.ndarray] = []
        self._dropped = 0  # episodic memories before the recent index's first position
        self.window: list[Memory] = []  # formed since the last reflection
        self.pending_importance = 0.0
        self.reflected_step = 0
        self.stance_then: float | None = agent.stance
        self.position_then: float | None = initial_position(agent, mechanics)
        self.seen_to = 0
        self.speakers: dict[str, str] = {}  # observation ref -> who it came from

    # -- building ---------------------------------------------------------------------------

    def add(self, memories: Sequence[Memory], speakers: Mapping[str, str] | None = None) -> None:
        if not memories:
            return
        vectors = self.embedder.embed([m.text for m in memories])
        lasting = [
            i for i, m in enumerate(memories) if m.kind == MemoryKind.REFLECTION or m.step is None
        ]
        episodic = [i for i in range(len(memories)) if i not in set(lasting)]
        for group, index in ((lasting, self.lasting), (episodic, self.recent)):
            if not group:
                continue
            chosen = [memories[i] for i in group]
            index.add(
                [m.ref for m in chosen],
                vectors[group],
                [m.time for m in chosen],
                [m.importance for m in chosen],
            )
        for i in episodic:
            self._recent_refs.append(memories[i].ref)
            self._recent_vectors.append(vectors[i])
        for m in memories:
            self.by_ref[m.ref] = m
        if speakers:
            self.speakers.update(speakers)
        self._trim()

    def _trim(self) -> None:
        """Keep the recent index within 2N rows: rebuild it from the last N (amortised)."""
        keep = self.config.short_term
        if len(self._recent_refs) < 2 * keep:
            return
        refs, vecs = self._recent_refs[-keep:], self._recent_vectors[-keep:]
        self._dropped += len(self._recent_refs) - keep
        self.recent = NumpyIndex(self.embedder.dim, capacity=keep)
        mems = [self.by_ref[r] for r in refs]
        self.recent.add(refs, np.stack(vecs), [m.time for m in mems], [m.importance for m in mems])
        self._recent_refs, self._recent_vectors = refs, vecs

    # -- recall -----------------------------------------------------------------------------

    def recall(self, situation: str, now: float) -> list[Recall]:
        cfg = self.config
        w = cfg.weights
        weights = RetrievalWeights(w.recency, w.importance, w.relevance, w.decay)
        query = self.embedder.embed([situation])[0]
        stale = max(0, len(self._recent_refs) - cfg.short_term)
        found: list[Scored] = []
        if len(self.lasting):
            found.extend(self.lasting.search(query, now, weights, cfg.top_k))
        if len(self.recent):
            short = set(self._recent_refs[stale:]) if stale else None
            hits = self.recent.search(query, now, weights, cfg.top_k + stale)
            found.extend(h for h in hits if short is None or h.id in short)
        found.sort(key=lambda s: (-s.score, self.by_ref[s.id].time, s.id))
        chosen: list[Recall] = []
        used = 0
        for s in found:
            if len(chosen) >= cfg.top_k:
                break
            size = len(self.by_ref[s.id].text)
            if used + size > cfg.budget_chars:
                continue
            used += size
            chosen.append(
                Recall(
                    s.id,
                    _round(s.score),
                    _round(s.recency),
                    _round(s.importance),
                    _round(s.relevance),
                )
            )
        return chosen


class MemoryStream:
    """Every agent's memories in one run (see the module docstring)."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        committed: Mapping[str, Sequence[Memory]] | None = None,
        embedder: Embedder | None = None,
        visibility: Visibility | None = None,
    ) -> None:
        self.scenario = scenario
        #: The only way memory reads other agents (whom each one hears).
        self.visibility = visibility if visibility is not None else Visibility(scenario)
        self.config = scenario.memory
        self.embedder = (
            CachedEmbedder(embedder) if embedder else shared_embedder(scenario.memory.embedder)
        )
        self.mechanics = mechanics_of(scenario)
        self.agents: dict[str, AgentMemory] = {}
        for agent in scenario.agents:
            self.agents[agent.id] = AgentMemory(
                agent, self.config, self.embedder, lived_offset(agent), self.mechanics
            )
        for agent_id, memories in (committed or {}).items():
            self.agents[agent_id].add(list(memories))

    def load(self, events: Iterable[Event]) -> None:
        """Replay the ``memory`` events of a timeline (in seq order)."""
        speakers: dict[int, str] = {}
        for event in events:
            if event.kind in (EventKind.MESSAGE, EventKind.ACTION) and event.agent_id:
                speakers[event.seq] = event.agent_id
            if event.kind != EventKind.MEMORY or event.agent_id not in self.agents:
                continue
            mind = self.agents[event.agent_id]
            formed = formed_memories(event, mind.offset)
            self._absorb(mind, formed, event.payload, speakers)

    def _absorb(
        self,
        mind: AgentMemory,
        formed: list[Memory],
        payload: Mapping[str, Any],
        speakers: Mapping[int, str],
    ) -> None:
        mind.add(formed, speakers_of(formed, speakers))
        mind.seen_to = max(mind.seen_to, int(payload.get("seen_to", 0)))
        for m in formed:
            if m.kind == MemoryKind.REFLECTION:
                continue
            mind.window.append(m)
            mind.pending_importance += m.importance
        reflected = payload.get("reflected")
        if reflected is not None:
            mind.window = []
            mind.pending_importance = 0.0
            mind.reflected_step = int(reflected["step"])
            mind.stance_then = reflected.get("stance")
            mind.position_then = reflected.get("position")

    # -- per decision -----------------------------------------------------------------------

    def recall(self, observation: Observation) -> tuple[Observation, list[Recall]]:
        """The observation with the recalled memories' texts in ``memory``, and the recall."""
        mind = self.agents[observation.agent.id]
        recalled = mind.recall(situation(observation), mind.offset + observation.step)
        texts = tuple(mind.by_ref[r.ref].text for r in recalled)
        return dataclasses.replace(observation, memory=texts), recalled

    async def after_decision(
        self,
        observation: Observation,
        recalled: list[Recall],
        decision: Decision,
        produced: Sequence[tuple[int, NewEvent]],
        state: State,
        next_seq: int,
        reflector: Reflector | None = None,
        rng: random.Random | None = None,
    ) -> list[NewEvent]:
        """The events for what the agent saw and did this step: its ``memory`` event, and
        when it reflects, a persona patch after an accepted adaptation — preceded by a
        ``decision`` event recording the model calls if a model-backed brain reflected.
        ``next_seq``: the seq the first returned event will get."""
        agent = observation.agent
        mind = self.agents[agent.id]
        step = observation.step
        record = StepMemory(recalled=recalled, seen_to=mind.seen_to)
        speakers: dict[int, str] = {}
        for event in observation.visible:
            if event.seq <= mind.seen_to or event.agent_id == agent.id:
                continue
            entry = observed_entry(event, agent, observation)
            if decision.importance is not None:  # the model judged what it saw
                entry["importance"], entry["scored_by"] = float(decision.importance), "brain"
            record.formed.append(entry)
            record.seen_to = max(record.seen_to, event.seq)
            if event.agent_id:
                speakers[event.seq] = event.agent_id
        for seq, made in produced:
            if made.kind in (EventKind.MESSAGE, EventKind.ACTION):
                record.formed.append(acted_entry(seq, made))
        pending = mind.pending_importance + sum(float(e["importance"]) for e in record.formed)
        before: list[NewEvent] = []
        after: list[NewEvent] = []
        memory_seq = next_seq
        if pending >= self.config.reflect_threshold:
            reflection = None
            if reflector is not None:
                texts = [m.text for m in mind.window] + [str(e["text"]) for e in record.formed]
                request = ReflectionRequest(
                    self.scenario.name, self.scenario.topic, step, agent, texts
                )
                reflection = await reflector.reflect(request, rng or random.Random(0))
                if reflection is not None and reflection.meta is not None:
                    meta = {k: v for k, v in reflection.meta.items() if k not in RUNTIME_META_KEYS}
                    before.append(NewEvent(step, EventKind.DECISION, meta, agent.id))
                    memory_seq += 1
            formed = as_memories(record.formed, memory_seq, agent.id, mind.offset + step, step)
            window = [*mind.window, *formed]
            if reflection is not None and reflection.insights:
                insights = [
                    Insight(
                        i.text,
                        tuple(window[c - 1].ref for c in i.cites),
                        importance_of([window[c - 1] for c in i.cites]),
                        "brain",
                    )
                    for i in reflection.insights
                ]
            else:
                insights = self._rules_insights(mind, window, state, step, speakers)
            after = self._consolidate(mind, window, insights, record, state, step)
        payload = record.payload()
        everything = as_memories(record.formed, memory_seq, agent.id, mind.offset + step, step)
        self._absorb(mind, everything, payload, speakers)
        return [*before, NewEvent(step, EventKind.MEMORY, payload, agent.id), *after]

    def _seen_by(self, agent_id: str) -> list[AgentSpec]:
        return [self.visibility.spec(a) for a in self.visibility.heard(agent_id)]

    def _rules_insights(
        self,
        mind: AgentMemory,
        window: list[Memory],
        state: State,
        step: int,
        speakers: Mapping[int, str],
    ) -> list[Insight]:
        agent = mind.agent
        agents = state["agents"]
        return rules_reflection(
            window,
            topic=self.scenario.topic,
            since_step=mind.reflected_step,
            step=step,
            stance_then=mind.stance_then,
            stance_now=agents.get(agent.id, {}).get("stance"),
            speakers={**mind.speakers, **speakers_of(window, speakers)},
            standings=standings(self._seen_by(agent.id), state),
        )

    def _consolidate(
        self,
        mind: AgentMemory,
        window: list[Memory],
        insights: list[Insight],
        record: StepMemory,
        state: State,
        step: int,
    ) -> list[NewEvent]:
        """Add the insights to ``record`` and adapt the persona; returns the persona patch
        event if the adaptation was accepted."""
        agent = mind.agent
        own = state["agents"].get(agent.id, {})
        stance_now = own.get("stance")
        for insight in insights:
            record.formed.append(
                {
                    "kind": MemoryKind.REFLECTION.value,
                    "text": insight.text,
                    "importance": insight.importance,
                    "source": None,
                    "cites": list(insight.cites),
                    "scored_by": insight.scored_by,
                }
            )
        now = position(agent, own, self.mechanics)
        record.reflected = {"step": step, "stance": stance_now, "position": now}
        current = traits_of(own, agent.persona.big_five())
        others = {
            a.id: position(agent, state["agents"].get(a.id, {}), self.mechanics)
            for a in self._seen_by(agent.id)
        }
        felt = experience(
            window, now, mind.position_then, others, valenced=valenced(agent, self.mechanics)
        )
        adapted, attempt = adapt(agent.persona, current, felt)
        if attempt:
            record.adaptation = attempt
        if adapted is None:
            return []
        patch = {"set": {f"agents.{agent.id}.traits": adapted}, "cause": "adaptation"}
        return [NewEvent(step, EventKind.WORLD, patch, agent.id)]
