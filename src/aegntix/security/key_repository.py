"""API keys as stored: what a listing shows, and the repository they live in (the SQL one
is :class:`aegntix.security.key_rows.SqlKeys`). A repository is one tenant's keys, or
(``tenant_id`` None) an operator's view of every tenant's, which can read and revoke but
not mint."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from aegntix.security.roles import Role


@dataclass(frozen=True)
class ApiKey:
    """A key as listed: never its secret."""

    id: str
    tenant_id: str
    role: Role
    name: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class NewKey:
    """A key to store: its public id and the SHA-256 of its secret."""

    id: str
    role: Role
    name: str
    secret_hash: str


@dataclass(frozen=True)
class ActiveKey:
    """What authenticating a key needs."""

    tenant_id: str
    role: Role
    secret_hash: str


class KeyRepository(Protocol):
    def add(self, key: NewKey, *, only_if_none: bool = False) -> bool:
        """Store ``key`` (creating the tenant if needed). False if its id is taken or —
        ``only_if_none`` — if the database already holds any key; decided atomically."""
        ...

    def active(self, key_id: str) -> ActiveKey | None: ...

    def get(self, key_id: str) -> ApiKey | None: ...

    def list_keys(self) -> list[ApiKey]:
        """Active and revoked, oldest first."""
        ...

    def revoke(self, key_id: str) -> None:
        """Idempotent; a key of another tenant is left alone."""
        ...
