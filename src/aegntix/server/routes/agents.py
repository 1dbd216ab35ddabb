"""Persistent agents and memories: profiles (CRUD, history, committed memories), keeping a
branch's experience, a branch's memories, and "why did the agent say this?"."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query, Response
from fastapi import Path as FastAPIPath
from pydantic import BaseModel, ConfigDict, Field

from aegntix.memory.profiles import ProfileSpec, ProfileStore
from aegntix.memory.queries import branch_memories, why
from aegntix.model.scenario import Identifier
from aegntix.model.text import SafeLine, SafeText
from aegntix.server.deps import BranchId, DeleteStore, ReadStore, WriteStore
from aegntix.server.schemas import INT64, problem_responses

router = APIRouter(prefix="/v1", tags=["agents"], responses=problem_responses(401, 403, 404, 422))


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ProfilePatch(_Body):
    name: SafeLine | None = Field(default=None, min_length=1, max_length=200)
    description: SafeText | None = Field(default=None, max_length=10_000)


class CommitRequest(_Body):
    agents: list[Identifier] | None = Field(default=None, max_length=1000)


class ProfileOut(BaseModel):
    id: str
    name: str
    description: str
    persona: dict[str, Any]
    traits: dict[str, float]
    consistency: float
    version: int
    lived_steps: int
    created_at: str
    updated_at: str


class ProfileDetail(ProfileOut):
    versions: list[dict[str, Any]]
    history: list[dict[str, Any]]


@router.get("/agents", response_model=list[ProfileOut])
def list_profiles(store: ReadStore) -> list[dict[str, Any]]:
    """This tenant's persistent agents."""
    return [p.as_json() for p in ProfileStore(store).list_profiles()]


@router.post(
    "/agents", status_code=201, response_model=ProfileOut, responses=problem_responses(409)
)
async def create_profile(body: ProfileSpec, store: WriteStore) -> dict[str, Any]:
    """A persistent agent with a core persona. Ids are never reused (409)."""
    profile = await asyncio.to_thread(
        ProfileStore(store).create, body.id, body.name, body.persona, body.description
    )
    return profile.as_json()


@router.get("/agents/{profile_id}", response_model=ProfileDetail)
def get_profile(profile_id: str, store: ReadStore) -> dict[str, Any]:
    """Persona (core and current), consistency, versions (each a kept branch) and history
    (scenarios it took part in, their branches, the one kept)."""
    profiles = ProfileStore(store)
    profile = profiles.get(profile_id)
    return {
        **profile.as_json(),
        "versions": [v.as_json() for v in profiles.versions(profile_id)],
        "history": [h.as_json() for h in profiles.history(profile_id)],
    }


@router.patch("/agents/{profile_id}", response_model=ProfileOut)
async def update_profile(profile_id: str, body: ProfilePatch, store: WriteStore) -> dict[str, Any]:
    """Rename or re-describe (the persona changes only through experience)."""
    profile = await asyncio.to_thread(
        ProfileStore(store).update, profile_id, name=body.name, description=body.description
    )
    return profile.as_json()


@router.delete("/agents/{profile_id}", status_code=204)
async def delete_profile(profile_id: str, store: DeleteStore) -> Response:
    """Soft delete: scenarios that used it still replay; the id is never reused."""
    await asyncio.to_thread(ProfileStore(store).delete, profile_id)
    return Response(status_code=204)


@router.get("/agents/{profile_id}/memories")
def profile_memories(
    profile_id: str,
    store: ReadStore,
    version: int | None = Query(default=None, ge=0, le=INT64),
    limit: int = Query(default=200, ge=1, le=10_000),
    offset: int = Query(default=0, ge=0, le=INT64),
) -> dict[str, Any]:
    """Committed (long-term) memories, oldest first, up to ``version``."""
    found = ProfileStore(store).memories(profile_id, version)
    page = found[offset : offset + limit]
    return {"total": len(found), "memories": [m.as_json() for m in page]}


@router.post("/branches/{branch_id}/commit", responses=problem_responses(409), status_code=201)
async def commit_branch(
    branch_id: BranchId, store: WriteStore, body: CommitRequest | None = None
) -> list[dict[str, Any]]:
    """Keep this branch's experience: its persistent agents (or those named) take its
    memories and final persona into their next scenario. One branch per scenario (409)."""
    agents = body.agents if body is not None else None
    made = await asyncio.to_thread(ProfileStore(store).commit, branch_id, agents)
    return [v.as_json() for v in made]


@router.get("/branches/{branch_id}/memories")
def memories(
    branch_id: BranchId,
    store: ReadStore,
    agent: str | None = Query(default=None, max_length=64),
    step: int | None = Query(default=None, ge=0, le=INT64),
    committed: bool = Query(default=False, description="Include memories it started with."),
    limit: int = Query(default=200, ge=1, le=10_000),
) -> dict[str, Any]:
    """Memories agents formed in this branch's timeline (newest ``limit``), with tiers."""
    found = branch_memories(store, branch_id, agent_id=agent, upto_step=step, committed=committed)
    return {
        "total": len(found),
        "memories": [{**m.as_json(), "agent_id": m.agent_id} for m in found[-limit:]],
    }


@router.get("/branches/{branch_id}/events/{seq}/why")
def why_event(
    branch_id: BranchId, store: ReadStore, seq: int = FastAPIPath(ge=1, le=INT64)
) -> dict[str, Any]:
    """The memories the agent recalled when it decided on event ``seq``, best first, with
    the score and its parts (recency, importance, relevance)."""
    return why(store, branch_id, seq).as_json()
