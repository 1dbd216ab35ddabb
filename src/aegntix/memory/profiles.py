"""Persistent agents: identities that outlive a scenario (tenant-scoped).

A profile holds a core persona, its current (drifted) traits, a version and the number of
steps it has lived. A scenario's agent names one (``profile: mara``); when the scenario is
created its spec is *resolved*: the profile's core persona replaces the agent's, and the
version, traits and lived steps it starts from are pinned in the stored spec — so replays and
forks never depend on what the profile becomes later. The memories it starts with are the
committed ones up to that version (append-only rows, never changed).

At the end of a scenario the user chooses which branch's experience the agent keeps:
:meth:`ProfileStore.commit` copies exactly that branch's memories (its lineage's, for that
agent) into the profile as a new version, with the persona the agent ended with. One branch
per scenario; nothing is kept from the others.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aegntix.errors import Conflict, InvalidRequest, ProfileNotFound, ScenarioNotFound, printable
from aegntix.memory.profile_repository import (
    Profile,
    ProfileRepository,
    ProfileUse,
    ProfileVersion,
)
from aegntix.memory.records import Memory
from aegntix.model.parsing import load_yaml, yaml_error_line
from aegntix.model.scenario import Identifier, Persona, ProfileRef, Scenario, stored_scenario
from aegntix.model.text import SafeLine, SafeText, text_problem
from aegntix.tenant_data import TenantData
from aegntix.timeline.store import Store

__all__ = [
    "Participation",
    "Profile",
    "ProfileSpec",
    "ProfileStore",
    "ProfileVersion",
    "committed_memories",
    "load_profile_file",
    "profile_spec",
]

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


class ProfileSpec(BaseModel):
    """A persistent agent as a user describes one (a YAML file, an API body)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    id: Identifier
    name: SafeLine = Field(min_length=1, max_length=200)
    description: SafeText = Field(default="", max_length=10_000)
    persona: Persona = Field(default_factory=Persona)


def load_profile_file(path: Path) -> ProfileSpec:
    """A profile file (``id``, ``name``, ``description``, ``persona``); errors name the file
    and the field."""
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidRequest(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InvalidRequest(f"{path}: not UTF-8 text") from None
    except ValueError as exc:  # nested too deeply
        raise InvalidRequest(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:  # one line, not the parser's multi-line dump
        raise InvalidRequest(f"{path}: invalid YAML: {yaml_error_line(exc)}") from None
    return profile_spec(data, where=str(path))


def profile_spec(data: Any, *, where: str = "profile") -> ProfileSpec:
    if not isinstance(data, dict):
        raise InvalidRequest(f"{where}: must be a mapping with id, name and persona")
    try:
        return ProfileSpec.model_validate(data)
    except ValidationError as exc:
        # Every problem, on one line (the first names the field as before).
        parts = [
            f"{'.'.join(str(p) for p in e['loc']) or 'profile'}: "
            + str(e["msg"]).removeprefix("Value error, ")
            for e in exc.errors(include_url=False)
        ]
        raise InvalidRequest(printable(f"{where}: {'; '.join(parts)}")) from None


def _check_text(*, name: str | None, description: str | None) -> None:
    """The rules of SafeLine/SafeText for callers that bypass ProfileSpec (the CLI)."""
    for key, value, multi_line in (("name", name, False), ("description", description, True)):
        if value is not None and (problem := text_problem(value, multi_line=multi_line)):
            raise InvalidRequest(f"{key}: {problem}")


@dataclass(slots=True)
class Participation:
    """A scenario the agent took part in: as which agent, from which version, its branches
    and the one it kept (if any)."""

    scenario_id: str
    scenario: str
    agent_id: str
    version: int
    branches: list[dict[str, Any]] = field(default_factory=list)
    kept_branch: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "scenario_id": self.scenario_id,
            "scenario": self.scenario,
            "agent_id": self.agent_id,
            "version": self.version,
            "branches": self.branches,
            "kept_branch": self.kept_branch,
        }


class ProfileStore:
    """Profiles of one tenant, in the timeline's database. ``store``: a ``SqlStore`` (the
    default tenant) or a ``TenantStore`` (its tenant). Thread-safe; writes go through the
    store's single writer."""

    def __init__(self, store: Store) -> None:
        data = TenantData.of(store)
        if data is None:
            raise InvalidRequest("persistent agents need a SQL timeline store")
        self.store = store
        self.tenant_id = data.tenant_id
        self.rows: ProfileRepository = data.profiles

    # -- CRUD -------------------------------------------------------------------------------

    def create(
        self, profile_id: str, name: str, persona: Persona | None = None, description: str = ""
    ) -> Profile:
        if not _ID.match(profile_id):
            raise InvalidRequest("id: 1-64 letters, digits, '-' or '_', starting with a letter")
        _check_text(name=name, description=description)
        ref = ProfileRef(id=profile_id)
        if not self.rows.create(ref.id, name, description, persona or Persona()):
            raise Conflict(f"profile '{ref.id}' already exists (ids are never reused)")
        return self.get(ref.id)

    def get(self, profile_id: str) -> Profile:
        found = self.rows.get(profile_id)
        if found is None:
            raise ProfileNotFound(f"no persistent agent '{profile_id}'")
        return found

    def list_profiles(self) -> list[Profile]:
        return self.rows.list_profiles()

    def update(
        self, profile_id: str, *, name: str | None = None, description: str | None = None
    ) -> Profile:
        """Rename or re-describe. The persona changes only through experience (commit)."""
        _check_text(name=name, description=description)
        self.get(profile_id)
        values: dict[str, Any] = {"updated_at": datetime.now(UTC)}
        if name is not None:
            values["name"] = name
        if description is not None:
            values["description"] = description
        self.rows.update(profile_id, values)
        return self.get(profile_id)

    def delete(self, profile_id: str) -> None:
        """Soft delete: scenarios that used it keep replaying (their spec pins it)."""
        self.get(profile_id)
        self.rows.update(profile_id, {"deleted_at": datetime.now(UTC)})

    # -- what it has lived ------------------------------------------------------------------

    def versions(self, profile_id: str) -> list[ProfileVersion]:
        self.get(profile_id)
        return self.rows.versions(profile_id)

    def memories(
        self, profile_id: str, version: int | None = None, *, check: bool = True
    ) -> list[Memory]:
        """Committed memories up to ``version`` (default: the newest), oldest first."""
        if check:
            self.get(profile_id)
        return self.rows.memories(profile_id, version)

    def history(self, profile_id: str) -> list[Participation]:
        """The scenarios it took part in (oldest first), their branches, the one kept."""
        self.get(profile_id)
        rows = self.rows.uses(profile_id)
        kept = {v.scenario_id: v.branch_id for v in self.versions(profile_id) if v.scenario_id}
        out: list[Participation] = []
        for row in rows:
            try:
                record = self.store.get_scenario(row.scenario_id)
            except ScenarioNotFound:  # deleted since: its history entry goes with it
                continue
            part = Participation(
                row.scenario_id,
                record.name,
                row.agent_id,
                int(row.version),
                kept_branch=kept.get(row.scenario_id),
            )
            for b in self.store.list_branches(row.scenario_id):
                part.branches.append(
                    {
                        "id": b.id,
                        "label": b.label,
                        "status": b.status.value,
                        "head_step": b.head_step,
                    }
                )
            out.append(part)
        return out

    # -- scenarios --------------------------------------------------------------------------

    def resolve(self, scenario: Scenario) -> Scenario:
        """``scenario`` with each named profile pinned (version, traits, lived steps) and its
        core persona in place of the agent's. Raises before anything is written."""
        if not any(a.profile is not None for a in scenario.agents):
            return scenario
        agents = []
        for agent in scenario.agents:
            if agent.profile is None:
                agents.append(agent)
                continue
            profile = self.get(agent.profile.id)
            pinned = agent.profile.version
            if pinned is None:
                version, traits, lived = profile.version, profile.traits, profile.lived_steps
            else:
                found = {v.version: v for v in self.versions(profile.id)}
                if pinned not in found:
                    raise InvalidRequest(
                        f"agents.{agent.id}.profile.version: '{profile.id}' has no version "
                        f"{pinned} (newest is {profile.version})"
                    )
                version, traits, lived = pinned, found[pinned].traits, found[pinned].lived_steps
            ref = ProfileRef(id=profile.id, version=version, traits=traits, lived_steps=lived)
            agents.append(agent.model_copy(update={"persona": profile.persona, "profile": ref}))
        data = scenario.model_dump(mode="json")
        data["agents"] = [a.model_dump(mode="json") for a in agents]
        return stored_scenario(data)

    def record_uses(self, scenario_id: str, scenario: Scenario) -> None:
        self.rows.record_uses(
            scenario_id,
            [
                ProfileUse(a.profile.id, scenario_id, a.id, a.profile.version or 0)
                for a in scenario.agents
                if a.profile is not None
            ],
        )

    def commit(self, branch_id: str, agents: Sequence[str] | None = None) -> list[ProfileVersion]:
        """Keep ``branch_id``'s experience (see :func:`aegntix.memory.keeping.keep_branch`)."""
        from aegntix.memory.keeping import keep_branch

        return keep_branch(self, branch_id, agents)


def committed_memories(
    store: Store, scenario: Scenario, agent_id: str | None = None
) -> dict[str, list[Memory]]:
    """What the scenario's persistent agents (or ``agent_id`` alone) started with: their
    committed memories at the pinned versions, by the agent id they play."""
    profiles = ProfileStore(store)
    return {
        agent.id: [
            dataclasses.replace(m, agent_id=agent.id)
            for m in profiles.memories(agent.profile.id, agent.profile.version, check=False)
        ]
        for agent in scenario.agents
        if agent.profile is not None and agent_id in (None, agent.id)
    }
