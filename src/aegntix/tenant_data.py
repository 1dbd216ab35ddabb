"""One tenant's side tables (reply cache, usage ledger, profiles, API keys, rollout sets),
each as the repository protocol of the package that uses it. The only place their SQL
implementations are chosen: a PostgreSQL store gets the same ones (they are dialect-aware)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aegntix.brains.llm_rows import SqlReplies, SqlUsageLedger
from aegntix.brains.replies import ReplyRepository, UsageLedger
from aegntix.errors import InvalidRequest
from aegntix.memory.profile_repository import ProfileRepository
from aegntix.memory.profile_rows import SqlProfiles
from aegntix.repository import Database, database_of, tenant_of
from aegntix.security.key_repository import KeyRepository
from aegntix.security.key_rows import SqlKeys
from aegntix.timeline.schema import DEFAULT_TENANT
from aegntix.timeline.store import Store

if TYPE_CHECKING:
    from aegntix.analysis.records import RolloutRepository


class TenantData:
    """The repositories of ``tenant_id`` in ``database`` (``None``: an operator's view of
    every tenant, for listing and revoking API keys)."""

    def __init__(self, database: Database, tenant_id: str | None) -> None:
        self.database = database
        self.tenant_id = tenant_id

    @classmethod
    def of(cls, store: Store | None) -> TenantData | None:
        """The data of the tenant ``store`` is scoped to (``default`` for an unscoped
        store); None if ``store`` has no SQL database."""
        database = database_of(store)
        if store is None or database is None:
            return None
        return cls(database, tenant_of(store, DEFAULT_TENANT))

    @property
    def replies(self) -> ReplyRepository:
        return SqlReplies(self.database, self.tenant_id)

    @property
    def usage(self) -> UsageLedger:
        return SqlUsageLedger(self.database, self.tenant_id)

    @property
    def profiles(self) -> ProfileRepository:
        return SqlProfiles(self.database, self.tenant_id)

    @property
    def keys(self) -> KeyRepository:
        return SqlKeys(self.database, self.tenant_id)

    @property
    def rollouts(self) -> RolloutRepository:
        # Imported here: analysis sits above the engine, whose brains import this module.
        from aegntix.analysis.records import SqlRollouts

        if self.tenant_id is None:
            raise InvalidRequest("tenant_id: rollout sets belong to one tenant")
        return SqlRollouts(self.database, self.tenant_id)
