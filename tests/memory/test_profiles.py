"""Persistent agents: CRUD, pinning at scenario creation, committing one branch's
experience, and behaving differently for it in the next scenario."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from aegntix.engine import start_scenario
from aegntix.errors import Conflict, InvalidRequest, ProfileNotFound
from aegntix.inject import inject
from aegntix.memory.profiles import ProfileStore
from aegntix.memory.queries import branch_memories
from aegntix.memory.records import memory_events
from aegntix.model.events import BranchStatus, EventKind
from aegntix.model.scenario import Persona, Scenario
from aegntix.timeline import SqlStore
from aegntix.timeline.schema import scenarios
from aegntix.timeline.state import state_at
from aegntix.timeline.tenancy import TenantStore
from tests.engine.helpers import run
from tests.memory.support import with_profile

BUYER = Persona(openness=0.6, conscientiousness=0.5, agreeableness=0.6, neuroticism=0.4)


def negotiation(profile_id: str) -> Scenario:
    return with_profile("negotiation", "buyer", profile_id, reflect_threshold=8)


def test_profiles_are_created_listed_renamed_and_deleted(store: SqlStore):
    profiles = ProfileStore(store)
    made = profiles.create("dana", "Dana Whitfield", BUYER, "bakery owner")
    assert made.version == 0 and made.lived_steps == 0 and made.consistency == 1.0
    assert made.traits == BUYER.big_five()
    assert [p.id for p in profiles.list_profiles()] == ["dana"]
    with pytest.raises(Conflict):
        profiles.create("dana", "Another")
    assert profiles.update("dana", name="Dana W.").name == "Dana W."
    profiles.delete("dana")
    with pytest.raises(ProfileNotFound):
        profiles.get("dana")
    with pytest.raises(Conflict):  # ids are never reused, even after a delete
        profiles.create("dana", "Dana again")


def test_profiles_are_tenant_scoped(store: SqlStore):
    ProfileStore(TenantStore(store, "acme")).create("dana", "Dana", BUYER)
    other = ProfileStore(TenantStore(store, "globex"))
    assert other.list_profiles() == []
    with pytest.raises(ProfileNotFound):
        other.get("dana")
    with pytest.raises(ProfileNotFound):  # a scenario naming a foreign profile: not found
        start_scenario(TenantStore(store, "globex"), negotiation("dana"))
    other.create("dana", "Globex's own Dana", BUYER)  # same id, another tenant: fine
    assert ProfileStore(TenantStore(store, "acme")).get("dana").name == "Dana"


def test_a_missing_profile_fails_before_anything_is_written(store: SqlStore):
    with pytest.raises(ProfileNotFound):
        start_scenario(store, negotiation("nobody"))
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(scenarios)).scalar_one() == 0


def test_a_scenario_pins_the_profile_it_started_from(store: SqlStore):
    profiles = ProfileStore(store)
    profiles.create("dana", "Dana", BUYER)
    branch = start_scenario(store, negotiation("dana"))
    spec = Scenario.model_validate(store.get_scenario(branch.scenario_id).spec)
    buyer = spec.agent("buyer")
    assert buyer.profile is not None and buyer.profile.version == 0
    assert buyer.profile.traits == BUYER.big_five() and buyer.profile.lived_steps == 0
    assert buyer.persona == BUYER  # the profile's core persona replaces the file's
    history = profiles.history("dana")
    assert [(h.scenario_id, h.agent_id, h.version) for h in history] == [
        (branch.scenario_id, "buyer", 0)
    ]


def test_commit_keeps_exactly_that_branchs_memories_and_persona(store: SqlStore):
    profiles = ProfileStore(store)
    profiles.create("dana", "Dana", BUYER)
    root = start_scenario(store, negotiation("dana"))
    run(store, root.id)
    fork = inject(
        store,
        root.id,
        "The dealer says another bakery will pay full price by Friday: decide now.",
        at_step=1,
        targets=["buyer"],
        strategy="direct",
    ).branch
    run(store, fork.id)
    kept = branch_memories(store, fork.id, agent_id="buyer")
    dropped = branch_memories(store, root.id, agent_id="buyer")
    assert {m.text for m in kept} != {m.text for m in dropped}

    (version,) = profiles.commit(fork.id)
    assert version.version == 1 and version.branch_id == fork.id
    assert version.memories == len(kept)
    committed = profiles.memories("dana")
    assert [(m.kind, m.text, m.importance) for m in committed] == [
        (m.kind, m.text, m.importance) for m in kept
    ]
    assert all(m.origin == f"{fork.scenario_id}/{fork.id}" for m in committed)
    refs = {m.ref for m in committed}
    cited = [c for m in committed for c in m.cites]
    assert cited and set(cited) <= refs  # reflections still cite what they rest on
    final = state_at(store, fork.id)["agents"]["buyer"].get("traits", BUYER.big_five())
    profile = profiles.get("dana")
    assert profile.traits == final and profile.version == 1
    assert profile.lived_steps == state_at(store, fork.id)["completed"]
    assert profiles.history("dana")[0].kept_branch == fork.id

    with pytest.raises(Conflict):  # one branch per scenario: the other is not kept
        profiles.commit(root.id)
    assert profiles.get("dana").version == 1 and len(profiles.memories("dana")) == len(kept)


def test_commit_refuses_a_scenario_without_persistent_agents(store: SqlStore):
    from tests.support import example

    branch = start_scenario(store, example("negotiation"))
    with pytest.raises(InvalidRequest):
        ProfileStore(store).commit(branch.id)


def test_the_kept_experience_carries_into_the_next_scenario(store: SqlStore):
    """Two identical agents live the same scenario, but one through a branch where the
    dealer bullies it. Each keeps its own branch; in the next negotiation they differ —
    in what they remember and in how they bargain."""
    profiles = ProfileStore(store)
    for pid in ("calm", "bullied"):
        profiles.create(pid, "Dana", BUYER)
    calm = start_scenario(store, negotiation("calm"))
    run(store, calm.id)
    twin = start_scenario(store, negotiation("bullied"))
    run(store, twin.id)
    threat = (
        "Take it or leave it: final offer, decide now or the deal is off. "
        "Hurry, the deadline is today and nobody else will sell to you."
    )
    bullied = inject(store, twin.id, threat, at_step=1, targets=["buyer"]).branch.id
    for _ in range(2):  # and again at each of the next steps (while there is one)
        if run(store, bullied, 1).status is BranchStatus.DONE:
            break  # a finished branch refuses an injection: nothing would hear it
        inject(store, bullied, threat, targets=["buyer"])
    run(store, bullied)
    profiles.commit(calm.id)
    profiles.commit(bullied)
    calm_traits, bullied_traits = profiles.get("calm").traits, profiles.get("bullied").traits
    assert calm_traits != bullied_traits
    assert bullied_traits["neuroticism"] > calm_traits["neuroticism"]

    second: dict[str, list[float]] = {}
    for pid in ("calm", "bullied"):
        branch = start_scenario(store, negotiation(pid))
        recalled_texts = set()
        run(store, branch.id)
        events = list(store.events(branch.id))
        second[pid] = [
            e.payload["fields"]["offer"]
            for e in events
            if e.kind == EventKind.MESSAGE
            and e.agent_id == "buyer"
            and "offer" in e.payload["fields"]
        ]
        committed = {m.ref: m.text for m in profiles.memories(pid)}
        for record in memory_events(events, "buyer"):
            recalled_texts |= {
                committed[r["ref"]] for r in record.payload["recalled"] if r["ref"] in committed
            }
        assert recalled_texts, "the kept memories are recalled in the next scenario"
        if pid == "bullied":
            assert any("decide now" in t or "final offer" in t for t in recalled_texts)
    assert second["calm"] != second["bullied"]
