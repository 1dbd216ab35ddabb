"""A scenario's topology (who hears whom) and a branch's step as heard (who heard what), for
the network view of the web UI."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from aegntix.model.stored import scenario_from
from aegntix.server.deps import BranchId, ReadStore, ScenarioId
from aegntix.server.schemas import problem_responses
from aegntix.swarm.hearings import step_hearings
from aegntix.swarm.recorded import recorded_topology
from aegntix.swarm.topology import build
from aegntix.timeline.tenancy import TenantStore

router = APIRouter(prefix="/v1", tags=["scenarios"], responses=problem_responses(401, 403, 404))


class TopologyNode(BaseModel):
    id: str
    name: str
    role: str
    stance: float | None = None  # where it starts
    level: int | None = None  # hierarchy: 0 at the top
    groups: list[str] = []


class TopologyOut(BaseModel):
    scenario_id: str
    kind: str
    directed: bool
    #: mesh: everyone hears everyone; ``edges`` is then empty rather than n·(n-1)/2 long
    complete: bool
    nodes: list[TopologyNode]
    #: ``[a, b]``: b hears a and a may address b (both ways unless ``directed``)
    edges: list[tuple[str, str]]


def _topology(store: TenantStore, scenario_id: str) -> dict[str, Any]:
    scenario = scenario_from(store.get_scenario(scenario_id))
    roots = [b for b in store.list_branches(scenario_id) if b.parent_id is None]
    topology = recorded_topology(store, roots[0].id, scenario) if roots else build(scenario)
    member: dict[str, list[str]] = {}
    for name, agents in topology.groups.items():
        for agent_id in agents:
            member.setdefault(agent_id, []).append(name)
    return {
        "scenario_id": scenario_id,
        "kind": topology.kind,
        "directed": topology.directed,
        "complete": topology.is_mesh,
        "nodes": [
            {
                "id": a.id,
                "name": a.name,
                "role": a.role,
                "stance": a.stance,
                "level": topology.levels.get(a.id),
                "groups": member.get(a.id, []),
            }
            for a in scenario.agents
        ],
        "edges": [list(e) for e in topology.edges],
    }


@router.get("/scenarios/{scenario_id}/topology", response_model=TopologyOut)
async def get_topology(scenario_id: ScenarioId, store: ReadStore) -> dict[str, Any]:
    """Who hears whom: the agents (nodes) and the edges of the scenario's topology, as its
    runs use it (recorded when the scenario was created)."""
    return await asyncio.to_thread(_topology, store, scenario_id)


class SaidOut(BaseModel):
    seq: int
    kind: str  # message | action
    agent_id: str  # the speaker
    text: str
    to: list[str] | None  # addressees, when addressed
    hearers: list[str]  # who heard it (the speaker left out), in file order


class WaveOut(BaseModel):
    seq: int
    step: int
    agents: list[str]  # who first heard it at this step
    via: str | None  # organic: the teller (an agent id, or "news")


class ReachOut(BaseModel):
    seq: int  # the landing event
    step: int  # the step it landed at
    strategy: str
    text: str
    waves: list[WaveOut]  # up to the step asked
    heard: list[str]  # everyone who had heard it by the step asked


class HearingsOut(BaseModel):
    branch_id: str
    step: int
    head_step: int
    stances: dict[str, float]  # after the step
    said: list[SaidOut]
    injections: list[ReachOut]


@router.get(
    "/branches/{branch_id}/hearings",
    response_model=HearingsOut,
    tags=["branches"],
    responses=problem_responses(422),
)
async def get_hearings(
    branch_id: BranchId,
    store: ReadStore,
    step: int | None = Query(None, description="the step (0..head); default the head step"),
) -> dict[str, Any]:
    """Who heard what at one step: each message and action of the step with the agents it
    reached (as the run's topology and addressing decided), the stances after the step, and
    every injection landed by then with who had heard it, wave by wave."""
    found = await asyncio.to_thread(step_hearings, store, branch_id, step)
    return found.to_json()
