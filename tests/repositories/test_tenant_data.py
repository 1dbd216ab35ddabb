"""A store hands out the repositories of the tenant it is scoped to, and only those."""

from __future__ import annotations

import pytest

from aegntix.analysis.records import Member
from aegntix.brains.replies import CachedReply, PaidCall, Payer
from aegntix.errors import InvalidRequest, RolloutSetNotFound
from aegntix.tenant_data import TenantData
from aegntix.timeline import SqlStore
from aegntix.timeline.tenancy import TenantStore


def test_a_tenant_store_gets_its_tenants_data(database: SqlStore):
    acme = TenantData.of(TenantStore(database, "acme"))
    assert acme is not None and acme.tenant_id == "acme"
    acme.replies.add("k", PaidCall("openai", "m", CachedReply("a", 1, 1), 0.1), Payer("acme"))
    globex = TenantData.of(TenantStore(database, "globex"))
    assert globex is not None and globex.replies.find("k") is None
    assert acme.replies.find("k") == CachedReply("a", 1, 1)


def test_rollout_sets_are_the_tenants_own(database: SqlStore):
    """Rollout sets go through the same tenant-scoped layer: another tenant's set, its
    members and its member branches answer as missing ones, by id and by prefix."""
    acme_store = TenantStore(database, "acme")
    scenario = acme_store.create_scenario("s", {})
    branch = acme_store.create_branch(scenario.id, seed=1)
    acme = TenantData.of(acme_store)
    globex = TenantData.of(TenantStore(database, "globex"))
    assert acme is not None and globex is not None
    made = acme.rollouts.create(
        scenario_id=scenario.id,
        parent_id=branch.id,
        fork_step=0,
        injection=None,
        n=1,
        seed_base=7,
    )
    acme.rollouts.add_member(made.id, Member(0, branch.id, made.seed(0)))
    assert [s.id for s in acme.rollouts.list_sets()] == [made.id]
    assert acme.rollouts.member_statuses(made.id) == {0: "idle"}
    assert globex.rollouts.list_sets() == []
    assert globex.rollouts.members(made.id) == []
    assert globex.rollouts.member_heads(made.id) == []
    with pytest.raises(RolloutSetNotFound):
        globex.rollouts.get(made.id)
    with pytest.raises(RolloutSetNotFound):
        globex.rollouts.resolve(made.id[:6])
    with pytest.raises(InvalidRequest, match="tenant_id"):
        _ = TenantData(database, None).rollouts


def test_an_unscoped_store_gets_the_default_tenants_data(database: SqlStore):
    data = TenantData.of(database)
    assert data is not None and data.tenant_id == "default"


def test_no_database_no_data():
    assert TenantData.of(None) is None
