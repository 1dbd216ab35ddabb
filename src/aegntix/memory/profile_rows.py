"""Persistent agents, SQL side: :class:`SqlProfiles`, a tenant-scoped
:class:`~aegntix.memory.profile_repository.ProfileRepository` on ``agent_profiles``,
``profile_versions``, ``profile_memories`` and ``profile_uses``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, insert, select, update

from aegntix.errors import Conflict, ProfileNotFound
from aegntix.memory.profile_repository import (
    Experience,
    Profile,
    ProfileUse,
    ProfileVersion,
)
from aegntix.memory.records import Memory
from aegntix.model.events import canonical_json
from aegntix.model.scenario import Persona
from aegntix.repository import TenantRows, aware
from aegntix.timeline.inserts import insert_new
from aegntix.timeline.schema import (
    agent_profiles,
    profile_memories,
    profile_uses,
    profile_versions,
)

_P = agent_profiles.c
_V = profile_versions.c
_M = profile_memories.c
_U = profile_uses.c


def _profile(row: Any) -> Profile:
    return Profile(
        row.id,
        row.name,
        row.description,
        Persona.model_validate(json.loads(row.persona)),
        json.loads(row.traits),
        int(row.version),
        int(row.lived_steps),
        aware(row.created_at),
        aware(row.updated_at),
    )


def _version(row: Any) -> ProfileVersion:
    return ProfileVersion(
        int(row.version),
        json.loads(row.traits),
        int(row.lived_steps),
        row.scenario_id,
        row.branch_id,
        row.agent_id,
        int(row.memories),
        aware(row.created_at),
    )


def _memory(profile_id: str, row: Any) -> Memory:
    return Memory(
        ref=f"p{row.version}.{row.ord}",
        agent_id=profile_id,
        kind=row.kind,
        text=row.text,
        importance=float(row.importance),
        time=float(row.time),
        step=None,
        cites=tuple(json.loads(row.cites)),
        origin=f"{row.scenario_id}/{row.branch_id}",
    )


class SqlProfiles(TenantRows):
    def live(self, profile_id: str) -> ColumnElement[bool]:
        """This tenant's live (not deleted) row of ``profile_id``."""
        return and_(self.mine(agent_profiles), _P.id == profile_id, _P.deleted_at.is_(None))

    def create(self, profile_id: str, name: str, description: str, persona: Persona) -> bool:
        now = datetime.now(UTC)
        traits = canonical_json(persona.big_five())
        row = self.stamped(
            id=profile_id,
            name=name,
            description=description,
            persona=canonical_json(persona.model_dump(mode="json")),
            traits=traits,
            version=0,
            lived_steps=0,
            created_at=now,
            updated_at=now,
        )
        first = self.stamped(
            profile_id=profile_id, version=0, traits=traits, lived_steps=0, memories=0
        )

        def op(conn: Connection) -> bool:
            # The key (tenant, id) outlives a soft delete: ids are never reused.
            if insert_new(conn, agent_profiles, row) == 0:
                return False
            conn.execute(insert(profile_versions).values(**first, created_at=now))
            return True

        return self.write(op)

    def get(self, profile_id: str) -> Profile | None:
        with self.reading() as conn:
            row = conn.execute(select(agent_profiles).where(self.live(profile_id))).first()
        return None if row is None else _profile(row)

    def list_profiles(self) -> list[Profile]:
        query = (
            select(agent_profiles)
            .where(self.mine(agent_profiles), _P.deleted_at.is_(None))
            .order_by(_P.id)
        )
        with self.reading() as conn:
            return [_profile(r) for r in conn.execute(query)]

    def update(self, profile_id: str, values: dict[str, Any]) -> None:
        stmt = update(agent_profiles).where(self.live(profile_id)).values(**values)
        self.write(lambda conn: conn.execute(stmt))

    def versions(self, profile_id: str) -> list[ProfileVersion]:
        query = (
            select(profile_versions)
            .where(self.mine(profile_versions), _V.profile_id == profile_id)
            .order_by(_V.version)
        )
        with self.reading() as conn:
            return [_version(r) for r in conn.execute(query)]

    def memories(self, profile_id: str, version: int | None) -> list[Memory]:
        cond = [self.mine(profile_memories), _M.profile_id == profile_id]
        if version is not None:
            cond.append(_M.version <= version)
        query = select(profile_memories).where(*cond).order_by(_M.version, _M.ord)
        with self.reading() as conn:
            return [_memory(profile_id, r) for r in conn.execute(query)]

    def uses(self, profile_id: str) -> list[ProfileUse]:
        query = (
            select(_U.scenario_id, _U.agent_id, _U.version)
            .where(self.mine(profile_uses), _U.profile_id == profile_id)
            .order_by(_U.created_at, _U.scenario_id)
        )
        with self.reading() as conn:
            rows = conn.execute(query).all()
        return [ProfileUse(profile_id, r.scenario_id, r.agent_id, int(r.version)) for r in rows]

    def record_uses(self, scenario_id: str, uses: Sequence[ProfileUse]) -> None:
        now = datetime.now(UTC)
        rows = [
            self.stamped(
                profile_id=u.profile_id,
                scenario_id=scenario_id,
                agent_id=u.agent_id,
                version=u.version,
                created_at=now,
            )
            for u in uses
        ]
        if rows:
            self.write(lambda conn: insert_new(conn, profile_uses, rows))

    def keep(
        self, scenario_id: str, branch_id: str, completed: int, kept: Sequence[Experience]
    ) -> None:
        now = datetime.now(UTC)

        def op(conn: Connection) -> None:
            for each in kept:
                self._keep_one(conn, scenario_id, branch_id, completed, each, now)

        self.write(op)

    def _keep_one(
        self,
        conn: Connection,
        scenario_id: str,
        branch_id: str,
        completed: int,
        each: Experience,
        now: datetime,
    ) -> None:
        pid = each.profile_id
        row = conn.execute(select(_P.version, _P.lived_steps).where(self.live(pid))).first()
        if row is None:
            raise ProfileNotFound(f"no persistent agent '{pid}'")
        version, lived = int(row.version) + 1, int(row.lived_steps)
        traits = canonical_json(each.traits)
        # Claim the next version first: a concurrent commit (another process) that read the
        # same version updates no row here, so two commits never both pass the check below.
        claimed = conn.execute(
            update(agent_profiles)
            .where(self.live(pid), _P.version == version - 1)
            .values(version=version, traits=traits, lived_steps=lived + completed, updated_at=now)
        ).rowcount
        if claimed != 1:
            raise Conflict(f"'{pid}' changed while committing; try again")
        kept = conn.execute(
            select(_V.branch_id).where(
                self.mine(profile_versions), _V.profile_id == pid, _V.scenario_id == scenario_id
            )
        ).first()
        if kept is not None:
            raise Conflict(
                f"'{pid}' already keeps branch {kept[0]} of this scenario; "
                "one branch's experience per scenario"
            )
        # a reflection's citations follow it into the profile (as profile refs)
        renamed = {m.ref: f"p{version}.{i}" for i, m in enumerate(each.memories)}
        memory_rows = [
            self.stamped(
                profile_id=pid,
                version=version,
                ord=i,
                kind=m.kind,
                text=m.text,
                importance=m.importance,
                time=float(lived + (m.step or 0)),
                scenario_id=scenario_id,
                branch_id=branch_id,
                ref=m.ref,
                cites=json.dumps([renamed.get(c, c) for c in m.cites]),
                created_at=now,
            )
            for i, m in enumerate(each.memories)
        ]
        if memory_rows:
            conn.execute(insert(profile_memories), memory_rows)
        conn.execute(
            insert(profile_versions).values(
                **self.stamped(
                    profile_id=pid,
                    version=version,
                    traits=traits,
                    lived_steps=lived + completed,
                    scenario_id=scenario_id,
                    branch_id=branch_id,
                    agent_id=each.agent_id,
                    memories=len(each.memories),
                    created_at=now,
                )
            )
        )
