"""A store hands out the repositories of the tenant it is scoped to, and only those."""

from __future__ import annotations

from aegntix.brains.replies import CachedReply, PaidCall, Payer
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


def test_an_unscoped_store_gets_the_default_tenants_data(database: SqlStore):
    data = TenantData.of(database)
    assert data is not None and data.tenant_id == "default"


def test_no_database_no_data():
    assert TenantData.of(None) is None
