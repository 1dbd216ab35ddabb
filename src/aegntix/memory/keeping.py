"""Keeping a branch's experience: a persistent agent takes exactly one branch's memories and
the persona it ended with into a new version (``aegntix agents commit BRANCH``). One branch
per scenario; nothing is kept from the others."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select, update

from aegntix.errors import Conflict, InvalidRequest, ProfileNotFound
from aegntix.memory.profiles import ProfileStore, ProfileVersion
from aegntix.memory.records import Memory, formed_memories, memory_events, traits_of
from aegntix.model.events import canonical_json
from aegntix.model.scenario import stored_scenario
from aegntix.timeline.schema import agent_profiles, profile_memories, profile_versions
from aegntix.timeline.state import state_at


def keep_branch(
    profiles: ProfileStore, branch_id: str, agents: Sequence[str] | None = None
) -> list[ProfileVersion]:
    """Keep ``branch_id``'s experience: for each of its persistent agents (or those named),
    a new version with the branch's memories and the persona it ended with."""
    branch = profiles.store.get_branch(branch_id)
    record = profiles.store.get_scenario(branch.scenario_id)
    scenario = stored_scenario(record.spec)
    chosen = [a for a in scenario.agents if a.profile is not None]
    if agents:
        unknown = sorted(set(agents) - {a.id for a in chosen})
        if unknown:
            raise InvalidRequest(
                f"agent: {', '.join(unknown)} is not a persistent agent of this scenario"
            )
        chosen = [a for a in chosen if a.id in agents]
    if not chosen:
        raise InvalidRequest("branch: its scenario has no persistent agents (no 'profile')")
    state = state_at(profiles.store, branch_id)
    events = list(memory_events(profiles.store.events(branch_id)))
    now = datetime.now(UTC)
    plans: list[tuple[str, str, dict[str, float], list[Memory]]] = []
    for agent in chosen:
        assert agent.profile is not None
        own = [m for e in memory_events(events, agent.id) for m in formed_memories(e)]
        traits = traits_of(state["agents"].get(agent.id, {}), agent.persona.big_five())
        plans.append((agent.profile.id, agent.id, traits, own))
    completed = int(state["completed"])

    def op(conn: Connection) -> list[int]:
        made: list[int] = []
        for profile_id, agent_id, traits, own in plans:
            row = conn.execute(select(agent_profiles).where(profiles.where(profile_id))).first()
            if row is None:
                raise ProfileNotFound(f"no persistent agent '{profile_id}'")
            kept = conn.execute(
                select(profile_versions.c.branch_id).where(
                    profile_versions.c.tenant_id == profiles.tenant_id,
                    profile_versions.c.profile_id == profile_id,
                    profile_versions.c.scenario_id == branch.scenario_id,
                )
            ).first()
            if kept is not None:
                raise Conflict(
                    f"'{profile_id}' already keeps branch {kept[0]} of this scenario; "
                    "one branch's experience per scenario"
                )
            version = int(row.version) + 1
            lived = int(row.lived_steps)
            # a reflection's citations follow it into the profile (as profile refs)
            renamed = {m.ref: f"p{version}.{i}" for i, m in enumerate(own)}
            memory_rows = [
                {
                    "tenant_id": profiles.tenant_id,
                    "profile_id": profile_id,
                    "version": version,
                    "ord": i,
                    "kind": m.kind,
                    "text": m.text,
                    "importance": m.importance,
                    "time": float(lived + (m.step or 0)),
                    "scenario_id": branch.scenario_id,
                    "branch_id": branch.id,
                    "ref": m.ref,
                    "cites": json.dumps([renamed.get(c, c) for c in m.cites]),
                    "created_at": now,
                }
                for i, m in enumerate(own)
            ]
            if memory_rows:
                conn.execute(insert(profile_memories), memory_rows)
            conn.execute(
                insert(profile_versions).values(
                    tenant_id=profiles.tenant_id,
                    profile_id=profile_id,
                    version=version,
                    traits=canonical_json(traits),
                    lived_steps=lived + completed,
                    scenario_id=branch.scenario_id,
                    branch_id=branch.id,
                    agent_id=agent_id,
                    memories=len(own),
                    created_at=now,
                )
            )
            conn.execute(
                update(agent_profiles)
                .where(profiles.where(profile_id))
                .values(
                    version=version,
                    traits=canonical_json(traits),
                    lived_steps=lived + completed,
                    updated_at=now,
                )
            )
            made.append(version)
        return made

    profiles.backend.write(op)
    return [
        next(v for v in profiles.versions(pid) if v.branch_id == branch.id)
        for pid, _, _, _ in plans
    ]
