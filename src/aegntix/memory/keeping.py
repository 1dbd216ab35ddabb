"""Keeping a branch's experience: a persistent agent takes exactly one branch's memories and
the persona it ended with into a new version (``aegntix agents commit BRANCH``). One branch
per scenario; nothing is kept from the others."""

from __future__ import annotations

from collections.abc import Sequence

from aegntix.errors import InvalidRequest
from aegntix.memory.profile_repository import Experience
from aegntix.memory.profiles import ProfileStore, ProfileVersion
from aegntix.memory.records import formed_memories, memory_events, traits_of
from aegntix.model.stored import scenario_from
from aegntix.timeline.state import state_at


def keep_branch(
    profiles: ProfileStore, branch_id: str, agents: Sequence[str] | None = None
) -> list[ProfileVersion]:
    """Keep ``branch_id``'s experience: for each of its persistent agents (or those named),
    a new version with the branch's memories and the persona it ended with."""
    branch = profiles.store.get_branch(branch_id)
    record = profiles.store.get_scenario(branch.scenario_id)
    scenario = scenario_from(record)
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
    kept: list[Experience] = []
    for agent in chosen:
        assert agent.profile is not None
        own = [m for e in memory_events(events, agent.id) for m in formed_memories(e)]
        traits = traits_of(state["agents"].get(agent.id, {}), agent.persona.big_five())
        kept.append(Experience(agent.profile.id, agent.id, traits, own))
    profiles.rows.keep(branch.scenario_id, branch.id, int(state["completed"]), kept)
    return [
        next(v for v in profiles.versions(e.profile_id) if v.branch_id == branch.id) for e in kept
    ]
