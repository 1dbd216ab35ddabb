"""A branch's emergence metrics per step (polarization, clusters, echo chambers, influence),
computed from its timeline."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from aegntix.server.deps import BranchId, ReadStore
from aegntix.server.schemas import problem_responses
from aegntix.swarm.metrics import branch_metrics

router = APIRouter(prefix="/v1", tags=["branches"], responses=problem_responses(401, 403, 404))


class StepMetricsOut(BaseModel):
    step: int
    stances: int  # agents holding a stance
    mean_stance: float
    stance_spread: float
    polarization: float  # Esteban–Ray over the opinion clusters, 0..1
    bimodality: float  # Sarle's coefficient; above 5/9 suggests two modes
    opinion_clusters: int  # 1-D gap clustering
    heard: int  # (message, hearer) pairs in the step
    echo_chamber: float | None  # groups topologies: share of hearings within a group
    ei_index: float | None


class MetricsOut(BaseModel):
    branch_id: str
    steps: list[StepMetricsOut]
    final: StepMetricsOut | None
    consensus_step: int | None  # first step from which the spread stays under the threshold
    influence: dict[str, float]  # per speaker: how far its hearers moved toward it next step
    echo_chamber: float | None
    ei_index: float | None
    params: dict[str, float]  # er_alpha, cluster_gap, consensus_spread


@router.get("/branches/{branch_id}/metrics", response_model=MetricsOut)
async def get_metrics(branch_id: BranchId, store: ReadStore) -> dict[str, Any]:
    """Emergence metrics of the branch at each step and at its head, read from its
    timeline (events and the state fold), so a replay or fork shows the same figures."""
    found = await asyncio.to_thread(branch_metrics, store, branch_id)
    return found.to_json()
