"""Persistent agents as stored: the records and the repository they live in (one tenant's
profiles; the SQL one is :class:`aegntix.memory.profile_rows.SqlProfiles`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from aegntix.memory.persona import consistency
from aegntix.memory.records import Memory
from aegntix.model.scenario import Persona


@dataclass(frozen=True, slots=True)
class Profile:
    id: str
    name: str
    description: str
    persona: Persona  # the core persona
    traits: dict[str, float]  # current Big Five
    version: int
    lived_steps: int
    created_at: datetime
    updated_at: datetime

    @property
    def consistency(self) -> float:
        return consistency(self.traits, self.persona.big_five())

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "persona": self.persona.model_dump(mode="json"),
            "traits": self.traits,
            "consistency": self.consistency,
            "version": self.version,
            "lived_steps": self.lived_steps,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class ProfileVersion:
    version: int
    traits: dict[str, float]
    lived_steps: int
    scenario_id: str | None
    branch_id: str | None
    agent_id: str | None
    memories: int
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "traits": self.traits,
            "lived_steps": self.lived_steps,
            "scenario_id": self.scenario_id,
            "branch_id": self.branch_id,
            "agent_id": self.agent_id,
            "memories": self.memories,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class ProfileUse:
    """A scenario that named the profile: as which agent, from which version."""

    profile_id: str
    scenario_id: str
    agent_id: str
    version: int


@dataclass(frozen=True, slots=True)
class Experience:
    """What one persistent agent keeps from a branch: the persona it ended with and the
    memories it formed there."""

    profile_id: str
    agent_id: str
    traits: dict[str, float]
    memories: Sequence[Memory]


class ProfileRepository(Protocol):
    def create(self, profile_id: str, name: str, description: str, persona: Persona) -> bool:
        """A new profile at version 0; False if the id was ever used in this tenant."""
        ...

    def get(self, profile_id: str) -> Profile | None:
        """The live (not deleted) profile."""
        ...

    def list_profiles(self) -> list[Profile]: ...

    def update(self, profile_id: str, values: dict[str, Any]) -> None:
        """Set columns (``name``, ``description``, ``deleted_at``) of a live profile."""
        ...

    def versions(self, profile_id: str) -> list[ProfileVersion]: ...

    def memories(self, profile_id: str, version: int | None) -> list[Memory]:
        """Committed memories up to ``version`` (None: all), oldest first."""
        ...

    def uses(self, profile_id: str) -> list[ProfileUse]:
        """Oldest first."""
        ...

    def record_uses(self, scenario_id: str, uses: Sequence[ProfileUse]) -> None:
        """Idempotent: a scenario names a profile once."""
        ...

    def keep(
        self, scenario_id: str, branch_id: str, completed: int, kept: Sequence[Experience]
    ) -> None:
        """One new version per profile in ``kept``, atomically: all or none. Raises
        ``Conflict`` if a profile already keeps a branch of this scenario (or another
        commit changed it meanwhile), ``ProfileNotFound`` if one is gone."""
        ...
