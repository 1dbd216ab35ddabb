"""Roles and what each may do (DESIGN §6)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    READ = "read"
    WRITE = "write"  # run, fork, inject, step, create a scenario
    DELETE = "delete"
    MANAGE_KEYS = "manage_keys"


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    EDITOR = "editor"
    VIEWER = "viewer"
    SERVICE = "service"

    def can(self, action: Action) -> bool:
        return action in _GRANTS[self]

    def covers(self, other: Role) -> bool:
        """True when this role may do everything ``other`` may (it can mint such keys)."""
        return _GRANTS[other] <= _GRANTS[self] and _RANK[other] <= _RANK[self]


_GRANTS: dict[Role, frozenset[Action]] = {
    Role.OWNER: frozenset(Action),
    Role.ADMIN: frozenset({Action.READ, Action.WRITE, Action.DELETE, Action.MANAGE_KEYS}),
    Role.EDITOR: frozenset({Action.READ, Action.WRITE}),
    Role.SERVICE: frozenset({Action.READ, Action.WRITE}),
    Role.VIEWER: frozenset({Action.READ}),
}
# Only an owner may mint an owner key, although admin and owner hold the same actions today.
_RANK: dict[Role, int] = {
    Role.OWNER: 4,
    Role.ADMIN: 3,
    Role.EDITOR: 2,
    Role.SERVICE: 2,
    Role.VIEWER: 1,
}


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API key of a tenant, with a role."""

    tenant_id: str
    role: Role
    key_id: str
