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
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection, and_, insert, select, update

from aegntix.errors import Conflict, InvalidRequest, ProfileNotFound, ScenarioNotFound, printable
from aegntix.memory.persona import consistency
from aegntix.memory.records import Memory
from aegntix.model.events import canonical_json
from aegntix.model.parsing import load_yaml, yaml_error_line
from aegntix.model.scenario import Identifier, Persona, ProfileRef, Scenario, stored_scenario
from aegntix.model.text import SafeLine, SafeText, text_problem
from aegntix.timeline.schema import (
    DEFAULT_TENANT,
    agent_profiles,
    profile_memories,
    profile_uses,
    profile_versions,
)

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


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _profile(row: Any) -> Profile:
    return Profile(
        row.id,
        row.name,
        row.description,
        Persona.model_validate(json.loads(row.persona)),
        json.loads(row.traits),
        int(row.version),
        int(row.lived_steps),
        _aware(row.created_at),
        _aware(row.updated_at),
    )


class ProfileStore:
    """Profiles of one tenant, in the timeline's database. ``store``: a ``SqlStore`` (the
    default tenant) or a ``TenantStore`` (its tenant). Thread-safe; writes go through the
    store's single writer."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.tenant_id: str = getattr(store, "tenant_id", DEFAULT_TENANT)
        self.backend = getattr(store, "backend", store)
        if not hasattr(self.backend, "engine"):
            raise InvalidRequest("persistent agents need a SQL timeline store")

    def where(self, profile_id: str) -> Any:
        """The live (not deleted) row of ``profile_id`` in this tenant."""
        return and_(
            agent_profiles.c.tenant_id == self.tenant_id,
            agent_profiles.c.id == profile_id,
            agent_profiles.c.deleted_at.is_(None),
        )

    # -- CRUD -------------------------------------------------------------------------------

    def create(
        self, profile_id: str, name: str, persona: Persona | None = None, description: str = ""
    ) -> Profile:
        if not _ID.match(profile_id):
            raise InvalidRequest("id: 1-64 letters, digits, '-' or '_', starting with a letter")
        _check_text(name=name, description=description)
        ref = ProfileRef(id=profile_id)
        persona = persona or Persona()
        now = datetime.now(UTC)
        traits = persona.big_five()
        row = {
            "tenant_id": self.tenant_id,
            "id": ref.id,
            "name": name,
            "description": description,
            "persona": canonical_json(persona.model_dump(mode="json")),
            "traits": canonical_json(traits),
            "version": 0,
            "lived_steps": 0,
            "created_at": now,
            "updated_at": now,
        }

        def op(conn: Connection) -> None:
            exists = conn.execute(
                select(agent_profiles.c.id).where(
                    agent_profiles.c.tenant_id == self.tenant_id, agent_profiles.c.id == ref.id
                )
            ).first()
            if exists is not None:
                raise Conflict(f"profile '{ref.id}' already exists (ids are never reused)")
            conn.execute(insert(agent_profiles).values(**row))
            conn.execute(
                insert(profile_versions).values(
                    tenant_id=self.tenant_id,
                    profile_id=ref.id,
                    version=0,
                    traits=row["traits"],
                    lived_steps=0,
                    memories=0,
                    created_at=now,
                )
            )

        self.backend.write(op)
        return self.get(ref.id)

    def get(self, profile_id: str) -> Profile:
        with self.backend.engine.connect() as conn:
            row = conn.execute(select(agent_profiles).where(self.where(profile_id))).first()
        if row is None:
            raise ProfileNotFound(f"no persistent agent '{profile_id}'")
        return _profile(row)

    def list_profiles(self) -> list[Profile]:
        query = (
            select(agent_profiles)
            .where(
                agent_profiles.c.tenant_id == self.tenant_id, agent_profiles.c.deleted_at.is_(None)
            )
            .order_by(agent_profiles.c.id)
        )
        with self.backend.engine.connect() as conn:
            return [_profile(r) for r in conn.execute(query)]

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
        self.backend.write(
            lambda conn: conn.execute(
                update(agent_profiles).where(self.where(profile_id)).values(**values)
            )
        )
        return self.get(profile_id)

    def delete(self, profile_id: str) -> None:
        """Soft delete: scenarios that used it keep replaying (their spec pins it)."""
        self.get(profile_id)
        now = datetime.now(UTC)
        self.backend.write(
            lambda conn: conn.execute(
                update(agent_profiles).where(self.where(profile_id)).values(deleted_at=now)
            )
        )

    # -- what it has lived ------------------------------------------------------------------

    def versions(self, profile_id: str) -> list[ProfileVersion]:
        self.get(profile_id)
        query = (
            select(profile_versions)
            .where(
                profile_versions.c.tenant_id == self.tenant_id,
                profile_versions.c.profile_id == profile_id,
            )
            .order_by(profile_versions.c.version)
        )
        with self.backend.engine.connect() as conn:
            return [
                ProfileVersion(
                    int(r.version),
                    json.loads(r.traits),
                    int(r.lived_steps),
                    r.scenario_id,
                    r.branch_id,
                    r.agent_id,
                    int(r.memories),
                    _aware(r.created_at),
                )
                for r in conn.execute(query)
            ]

    def memories(
        self, profile_id: str, version: int | None = None, *, check: bool = True
    ) -> list[Memory]:
        """Committed memories up to ``version`` (default: the newest), oldest first."""
        if check:
            self.get(profile_id)
        cond = [
            profile_memories.c.tenant_id == self.tenant_id,
            profile_memories.c.profile_id == profile_id,
        ]
        if version is not None:
            cond.append(profile_memories.c.version <= version)
        query = (
            select(profile_memories)
            .where(*cond)
            .order_by(profile_memories.c.version, profile_memories.c.ord)
        )
        with self.backend.engine.connect() as conn:
            return [
                Memory(
                    ref=f"p{r.version}.{r.ord}",
                    agent_id=profile_id,
                    kind=r.kind,
                    text=r.text,
                    importance=float(r.importance),
                    time=float(r.time),
                    step=None,
                    cites=tuple(json.loads(r.cites)),
                    origin=f"{r.scenario_id}/{r.branch_id}",
                )
                for r in conn.execute(query)
            ]

    def history(self, profile_id: str) -> list[Participation]:
        """The scenarios it took part in (oldest first), their branches, the one kept."""
        self.get(profile_id)
        uses = (
            select(profile_uses)
            .where(
                profile_uses.c.tenant_id == self.tenant_id,
                profile_uses.c.profile_id == profile_id,
            )
            .order_by(profile_uses.c.created_at, profile_uses.c.scenario_id)
        )
        with self.backend.engine.connect() as conn:
            rows = list(conn.execute(uses))
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
        rows = [
            {
                "tenant_id": self.tenant_id,
                "profile_id": a.profile.id,
                "scenario_id": scenario_id,
                "agent_id": a.id,
                "version": a.profile.version or 0,
                "created_at": datetime.now(UTC),
            }
            for a in scenario.agents
            if a.profile is not None
        ]
        if rows:
            self.backend.write(lambda conn: conn.execute(insert(profile_uses), rows))

    def commit(self, branch_id: str, agents: Sequence[str] | None = None) -> list[ProfileVersion]:
        """Keep ``branch_id``'s experience (see :func:`aegntix.memory.keeping.keep_branch`)."""
        from aegntix.memory.keeping import keep_branch

        return keep_branch(self, branch_id, agents)


def committed_memories(
    store: Any, scenario: Scenario, agent_id: str | None = None
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
