"""Contract of the persistent-agent repository: ids once per tenant, atomic keeps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Table, func, select

from aegntix.errors import Conflict, ProfileNotFound
from aegntix.memory.profile_repository import Experience, ProfileUse
from aegntix.memory.records import Memory
from aegntix.model.scenario import Persona
from aegntix.tenant_data import TenantData
from aegntix.timeline import SqlStore
from aegntix.timeline.schema import profile_memories, profile_uses, profile_versions

from .racing import race

CALM = Persona(neuroticism=0.2)


def _memory(text: str) -> Memory:
    return Memory(
        ref="3.0", agent_id="seller", kind="action", text=text, importance=5.0, time=3.0, step=3
    )


def _count(database: SqlStore, table: Table) -> int:
    with database.reading() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_profile_is_created_at_version_zero(database: SqlStore):
    profiles = TenantData(database, "acme").profiles
    assert profiles.create("mara", "Mara", "a seller", CALM) is True
    found = profiles.get("mara")
    assert found is not None and found.version == 0 and found.persona == CALM
    assert [v.version for v in profiles.versions("mara")] == [0]


def test_an_id_is_never_reused_even_after_a_delete(database: SqlStore):
    profiles = TenantData(database, "acme").profiles
    profiles.create("mara", "Mara", "", CALM)
    assert profiles.create("mara", "Other", "", CALM) is False
    profiles.update("mara", {"deleted_at": datetime.now(UTC)})
    assert profiles.get("mara") is None
    assert profiles.create("mara", "Other", "", CALM) is False


def test_two_writers_creating_one_id_make_one_profile(database: SqlStore, other_writer: SqlStore):
    made = race(
        lambda: TenantData(database, "acme").profiles.create("mara", "A", "", CALM),
        lambda: TenantData(other_writer, "acme").profiles.create("mara", "B", "", CALM),
    )
    assert sorted(made) == [False, True]
    assert _count(database, profile_versions) == 1


def test_tenant_b_never_sees_tenant_a_profiles(database: SqlStore):
    acme = TenantData(database, "acme").profiles
    acme.create("mara", "Mara", "", CALM)
    acme.keep("s1", "b1", 5, [Experience("mara", "seller", CALM.big_five(), [_memory("sold")])])
    acme.record_uses("s1", [ProfileUse("mara", "s1", "seller", 0)])
    globex = TenantData(database, "globex").profiles
    assert globex.get("mara") is None and globex.list_profiles() == []
    assert globex.versions("mara") == [] and globex.memories("mara", None) == []
    assert globex.uses("mara") == []
    globex.update("mara", {"name": "taken over"})
    found = acme.get("mara")
    assert found is not None and found.name == "Mara"
    # the id is free in the other tenant
    assert globex.create("mara", "Theirs", "", CALM) is True


def test_keeping_a_branch_makes_a_version_with_its_memories(database: SqlStore):
    profiles = TenantData(database, "acme").profiles
    profiles.create("mara", "Mara", "", CALM)
    profiles.keep(
        "s1", "b1", 7, [Experience("mara", "seller", {"openness": 0.9}, [_memory("sold")])]
    )
    found = profiles.get("mara")
    assert found is not None and (found.version, found.lived_steps) == (1, 7)
    assert [m.text for m in profiles.memories("mara", None)] == ["sold"]
    assert profiles.memories("mara", 0) == []


def test_a_second_branch_of_one_scenario_is_refused(database: SqlStore):
    profiles = TenantData(database, "acme").profiles
    profiles.create("mara", "Mara", "", CALM)
    profiles.keep("s1", "b1", 1, [Experience("mara", "seller", {}, [])])
    with pytest.raises(Conflict, match="already keeps branch b1"):
        profiles.keep("s1", "b2", 1, [Experience("mara", "seller", {}, [])])
    found = profiles.get("mara")
    assert found is not None and found.version == 1


def test_a_failed_keep_leaves_nothing_of_its_other_profiles(database: SqlStore):
    profiles = TenantData(database, "acme").profiles
    profiles.create("mara", "Mara", "", CALM)
    kept = [
        Experience("mara", "seller", {}, [_memory("sold")]),
        Experience("ghost", "buyer", {}, []),  # no such profile: the whole keep fails
    ]
    with pytest.raises(ProfileNotFound):
        profiles.keep("s1", "b1", 3, kept)
    found = profiles.get("mara")
    assert found is not None and found.version == 0
    assert _count(database, profile_memories) == 0 and _count(database, profile_versions) == 1


def test_two_writers_keeping_one_scenario_keep_one_branch(
    database: SqlStore, other_writer: SqlStore
):
    TenantData(database, "acme").profiles.create("mara", "Mara", "", CALM)

    def keep(store: SqlStore, branch: str) -> str:
        try:
            TenantData(store, "acme").profiles.keep(
                "s1", branch, 1, [Experience("mara", "seller", {}, [])]
            )
        except Conflict:
            return "refused"
        return "kept"

    assert sorted(race(lambda: keep(database, "b1"), lambda: keep(other_writer, "b2"))) == [
        "kept",
        "refused",
    ]
    versions = TenantData(database, "acme").profiles.versions("mara")
    assert [v.version for v in versions] == [0, 1] and versions[1].branch_id in {"b1", "b2"}


def test_recording_a_scenarios_uses_twice_keeps_one_row_each(database: SqlStore):
    profiles = TenantData(database, "acme").profiles
    for pid in ("mara", "theo"):
        profiles.create(pid, pid.title(), "", CALM)
    uses = [ProfileUse("mara", "s1", "seller", 0), ProfileUse("theo", "s1", "buyer", 0)]
    profiles.record_uses("s1", uses)
    profiles.record_uses("s1", uses)
    assert profiles.uses("mara") == [uses[0]] and profiles.uses("theo") == [uses[1]]
    assert _count(database, profile_uses) == 2
