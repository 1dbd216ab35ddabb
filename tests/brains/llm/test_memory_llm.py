"""Memory with a model-backed brain over real HTTP: the model scores what it saw, reflects
with a recorded (and replayable) prompt, and sees its recalled memories in the prompt."""

from __future__ import annotations

from aegntix.brains.accounting import usage_for
from aegntix.engine import start_scenario
from aegntix.memory.queries import branch_memories
from aegntix.memory.records import MemoryKind
from aegntix.model.events import EventKind
from aegntix.model.loading import validate_scenario
from aegntix.testing import FakeLLM, Reply
from aegntix.testing.fake_llm import Request, default_responder, is_reflection
from aegntix.timeline import SqlStore, verify
from tests.brains.llm.support import llm_scenario, own, run, signature


def remembering(fake: FakeLLM, steps: int = 4):
    data = llm_scenario(fake, steps=steps).model_dump(mode="json")
    data["memory"] = {"enabled": True, "reflect_threshold": 12}
    return validate_scenario(data)


def scored(request: Request) -> Reply:
    """Decisions rate what was seen 7; reflections come from the default responder."""
    if is_reflection(request):
        return default_responder(request)
    return Reply(answer={"action": "say", "content": "Noted.", "importance": 7})


def test_the_model_scores_reflects_and_remembers(store: SqlStore, fake: FakeLLM):
    fake.reset(scored)
    branch = start_scenario(store, remembering(fake))
    run(store, branch.id)
    events = list(store.events(branch.id))
    memories = branch_memories(store, branch.id)
    seen = [m for m in memories if m.kind == MemoryKind.OBSERVATION]
    assert seen and all(m.importance == 7 and m.scored_by == "brain" for m in seen)

    reflections = [m for m in memories if m.kind == MemoryKind.REFLECTION]
    assert reflections and all(m.scored_by == "brain" for m in reflections)
    asked = [r for r in fake.requests if is_reflection(r)]
    assert len(asked) == len(reflections)  # one insight per reflection from the fake
    by_ref = {m.ref: m for m in memories}
    for r in reflections:
        (cited,) = r.cites  # the fake cites memory 1 of those it was shown
        assert by_ref[cited].agent_id == r.agent_id and by_ref[cited].time <= r.time
    recorded = [e for e in events if e.kind == EventKind.DECISION and e.payload.get("purpose")]
    assert len(recorded) == len(reflections)
    assert all(e.payload["purpose"] == "reflect" and e.payload["calls"] for e in recorded)
    # the reflection's decision event comes right before the memory event it produced
    for e in recorded:
        nxt = events[events.index(e) + 1]
        assert nxt.kind == EventKind.MEMORY and nxt.agent_id == e.agent_id

    later = [r for r in fake.requests if not is_reflection(r)][-1].prompt_text()
    assert "You remember:" in later  # recalled memories reach the model

    usage = usage_for(store, branch.id)["recorded"]["total"]
    assert usage["reflections"] == len(reflections)
    assert usage["calls"] == fake.count
    assert verify(store).ok


def test_fork_with_memory_and_a_model_makes_no_requests(store: SqlStore, fake: FakeLLM):
    fake.reset(scored)
    parent = start_scenario(store, remembering(fake))
    run(store, parent.id)
    paid = fake.count
    for at in (0, 2):
        child = store.fork(parent.id, at)
        run(store, child.id)
        assert signature(own(store, child.id)) == signature(
            list(store.events(parent.id, from_seq=child.fork_seq + 1))
        )
    assert fake.count == paid


def test_an_unusable_reflection_falls_back_to_the_rules(store: SqlStore, fake: FakeLLM):
    def broken(request: Request) -> Reply:
        if is_reflection(request):
            return Reply(answer={"insights": [{"text": "x", "cites": [99]}]})
        return default_responder(request)

    fake.reset(broken)
    branch = start_scenario(store, remembering(fake))
    run(store, branch.id)
    reflections = [m for m in branch_memories(store, branch.id) if m.kind == MemoryKind.REFLECTION]
    assert reflections and all(m.scored_by == "rules" for m in reflections)
    attempts = [
        e.payload
        for e in store.events(branch.id)
        if e.kind == EventKind.DECISION and e.payload.get("purpose") == "reflect"
    ]
    assert attempts and all(a["fallback"] == "invalid_output" for a in attempts)
    assert all(len(a["calls"]) == 2 for a in attempts)  # asked, then repaired once
