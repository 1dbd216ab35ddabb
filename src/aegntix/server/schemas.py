"""Request and response bodies of the REST API, and the JSON form of domain objects.

An event's one serialization is ``Event.to_json`` (REST pages, the WebSocket stream and the
bus all use it).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aegntix.engine.runner import StepResult
from aegntix.inject.kinds import MAX_SPREAD_STEPS
from aegntix.inject.registry import DEFAULT as DEFAULT_STRATEGY
from aegntix.inject.registry import names
from aegntix.model.events import Branch, ScenarioRecord
from aegntix.model.text import PlainData, SafeLine, SafeText
from aegntix.timeline.compare import Comparison

MAX_LABEL = 200
MAX_CONTENT = 4000
MAX_ID = 64
INT64 = 2**63 - 1

T = TypeVar("T")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def branch_json(b: Branch) -> dict[str, Any]:
    return {
        "id": b.id,
        "scenario_id": b.scenario_id,
        "parent_id": b.parent_id,
        "fork_seq": b.fork_seq,
        "fork_step": b.fork_step,
        "seed": b.seed,
        "label": b.label,
        "status": b.status.value,
        "head_seq": b.head_seq,
        "head_step": b.head_step,
        "head_hash": b.head_hash,
        "created_at": _iso(b.created_at),
        "failure": None if b.failure is None else b.failure.to_json(),
    }


def scenario_json(s: ScenarioRecord, *, spec: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": s.id,
        "name": s.name,
        "spec_hash": s.spec_hash,
        "created_at": _iso(s.created_at),
        "agents": [
            {
                "id": a.get("id"),
                "name": a.get("name"),
                "role": a.get("role"),
                "profile": a.get("profile"),
            }
            for a in s.spec.get("agents", [])
            if isinstance(a, dict)
        ],
        "description": s.spec.get("description"),
    }
    if spec:
        body["spec"] = s.spec
    return body


def step_json(r: StepResult) -> dict[str, Any]:
    return {
        "branch_id": r.branch_id,
        "step": r.step,
        "events": [e.to_json() for e in r.events],
        "outcomes": r.outcomes,
        "terminal": r.terminal,
    }


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: such numbers become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def finite(value: T) -> T:
    """``value`` with every NaN or infinite float replaced by None (JSON has neither)."""
    return cast(T, _finite(value))


def comparison_json(c: Comparison) -> dict[str, Any]:
    return finite(
        {
            "a": c.a,
            "b": c.b,
            "diverged": c.diverged,
            "common_ancestor": c.common_ancestor,
            "divergence_seq": c.divergence_seq,
            "divergence_step": c.divergence_step,
            "only_a_count": c.only_a_count,
            "only_b_count": c.only_b_count,
            "world_diff": {k: [a, b] for k, (a, b) in c.world_diff.items()},
            "outcomes_a": c.outcomes_a,
            "outcomes_b": c.outcomes_b,
            "outcome_deltas": c.outcome_deltas,
            "divergence_series": [[step, d] for step, d in c.divergence_series],
        }
    )


# -- request bodies ------------------------------------------------------------------------
class _Body(BaseModel):
    # Text is SafeText/SafeLine, free-form data PlainData, floats finite (model/text.py).
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class WaveIn(_Body):
    offset: int = Field(ge=0, lt=MAX_SPREAD_STEPS)
    agents: list[Annotated[SafeLine, Field(max_length=MAX_ID)]] = Field(
        min_length=1, max_length=1000
    )


class ScheduleIn(_Body):
    """A gradual injection's schedule: ``steps`` (reach a growing share over k steps) or
    explicit ``waves`` (who hears it how many steps after it lands) — one of the two; an
    organic one's: ``source``, ``p``, ``max_steps`` (all optional)."""

    steps: int | None = Field(default=None, ge=1, le=MAX_SPREAD_STEPS)
    waves: list[WaveIn] | None = Field(default=None, min_length=1, max_length=MAX_SPREAD_STEPS)
    #: organic: where it comes from (``news`` or ``agent:<id>``), the chance an edge passes
    #: it on, and how many hops it may spread (the strategy checks them, naming the field)
    source: SafeLine | None = Field(default=None, max_length=MAX_ID + 6)
    p: float | None = None
    max_steps: int | None = None


class Injection(_Body):
    content: SafeText = Field(min_length=1, max_length=MAX_CONTENT)
    targets: list[Annotated[SafeLine, Field(max_length=MAX_ID)]] | None = Field(
        default=None, max_length=1000
    )
    #: One of the registered strategies (``GET /v1/meta`` lists them with their parameters).
    strategy: str = Field(default=DEFAULT_STRATEGY, json_schema_extra={"enum": list(names())})
    schedule: ScheduleIn | None = None
    fields: dict[SafeLine, PlainData] | None = None
    world: dict[SafeLine, PlainData] | None = None
    urgency: float = Field(default=0.5, ge=0.0, le=1.0)

    @field_validator("strategy")
    @classmethod
    def _registered(cls, value: str) -> str:
        if value not in names():
            raise ValueError(f"'{value}' is not one of {', '.join(names())}")
        return value

    def schedule_json(self) -> dict[str, Any] | None:
        return None if self.schedule is None else self.schedule.model_dump(exclude_none=True)


class ForkRequest(_Body):
    at_step: int = Field(ge=0, le=INT64)
    label: SafeLine | None = Field(default=None, min_length=1, max_length=MAX_LABEL)
    seed: int | None = Field(default=None, ge=0, le=INT64)
    injection: Injection | None = None


class InjectRequest(Injection):
    at_step: int | None = Field(default=None, ge=0, le=INT64)
    label: SafeLine | None = Field(default=None, min_length=1, max_length=MAX_LABEL)


class RunRequest(_Body):
    steps: int | None = Field(default=None, ge=1, le=1_000_000)


class KeyRequest(_Body):
    role: Literal["owner", "admin", "editor", "viewer", "service"]
    name: SafeLine = Field(default="", max_length=200)


# -- responses (documented in the OpenAPI schema) -------------------------------------------
class EventOut(BaseModel):
    branch_id: str
    seq: int
    step: int
    kind: str
    agent_id: str | None
    payload: dict[str, Any]
    hash: str
    prev_hash: str
    created_at: str | None


class FailureOut(BaseModel):
    """Why a branch's last run failed (null unless ``status`` is ``failed``)."""

    type: str = Field(description="the error's class, e.g. ProviderError, ExpressionFailed")
    detail: str = Field(description="one readable line, scrubbed of secrets")
    step: int = Field(description="the step that failed")


class BranchOut(BaseModel):
    id: str
    scenario_id: str
    parent_id: str | None
    fork_seq: int
    fork_step: int
    seed: int
    label: str
    status: str
    head_seq: int
    head_step: int
    head_hash: str
    created_at: str | None
    failure: FailureOut | None = None


class BranchNode(BranchOut):
    children: list[BranchNode]


class AgentOut(BaseModel):
    id: str | None
    name: str | None
    role: str | None
    profile: dict[str, Any] | None = None  # a persistent agent, pinned at a version


class ScenarioOut(BaseModel):
    id: str
    name: str
    spec_hash: str
    created_at: str | None
    agents: list[AgentOut]
    description: str | None
    spec: dict[str, Any] | None = None


class FieldWarning(BaseModel):
    field: str | None
    reason: str
    line: int | None = None


class CreatedScenario(BaseModel):
    scenario: ScenarioOut
    root_branch: BranchOut
    #: What validates but will probably fail when run (e.g. text used as a number).
    warnings: list[FieldWarning] = []


class ValidateOut(BaseModel):
    ok: bool
    name: str
    agents: int
    warnings: list[FieldWarning] = []


class ExampleOut(BaseModel):
    name: str
    file: str
    title: str
    description: str | None
    needs_model: bool = Field(
        default=False, description="some agent thinks with a language model (not offline)"
    )
    model_servers: list[str] = Field(
        default_factory=list, description="the model servers it needs (base URLs), if named"
    )


class EventPage(BaseModel):
    events: list[EventOut]
    next_seq: int | None


class StepOut(BaseModel):
    branch_id: str
    step: int
    events: list[EventOut]
    outcomes: dict[str, Any]
    terminal: bool


class StatusOut(BaseModel):
    branch_id: str
    status: str
    running: bool
    head_seq: int
    head_step: int
    failure: FailureOut | None = None


class InjectOut(BaseModel):
    branch: BranchOut
    forked: bool
    events: list[EventOut]


class AgentReadingOut(BaseModel):
    agent_id: str
    name: str
    role: str
    mechanic: str  # opinion | negotiation | incident | discussion
    brain: str  # rules, or the model brain that will read the text itself
    effect: str  # in words: "for", "concedes faster", "no effect", ...
    direction: float  # -1..1
    strength: float  # 0..1
    relevance: float  # 0..1
    salience: float  # 0..1
    weight: float  # strength x salience: what the mechanics apply
    effective: bool
    reason: str
    source: str  # stance | fields | arguments | lexicon | none
    step: int  # the step it first hears the injection at


class HeardAtOut(BaseModel):
    step: int
    agents: list[str]


class ExplainOut(BaseModel):
    branch_id: str
    strategy: str
    schedule: list[HeardAtOut]  # who first hears it at which step (the strategy's plan)
    agents: list[AgentReadingOut]
    verdict: str
    arguments_declared: bool
    embedder: str


class StateOut(BaseModel):
    branch_id: str
    step: int
    state: dict[str, Any]


class OutcomesOut(BaseModel):
    branch_id: str
    step: int
    outcomes: dict[str, Any]


class SeriesPoint(BaseModel):
    step: int
    outcomes: dict[str, Any]


class ComparisonOut(BaseModel):
    a: str
    b: str
    diverged: bool
    common_ancestor: str | None
    divergence_seq: int | None
    divergence_step: int | None
    only_a_count: int
    only_b_count: int
    world_diff: dict[str, list[Any]]
    outcomes_a: dict[str, Any]
    outcomes_b: dict[str, Any]
    outcome_deltas: dict[str, Any]
    divergence_series: list[tuple[int, float | None]]


class KeyCreated(BaseModel):
    id: str
    key: str
    role: str
    name: str
    tenant_id: str


class KeyOut(BaseModel):
    id: str
    role: str
    name: str
    tenant_id: str
    created_at: str
    revoked_at: str | None
    active: bool


class Health(BaseModel):
    status: str
    version: str


class Me(BaseModel):
    tenant_id: str
    role: str
    key_id: str
    can: list[str]  # read, write, delete, manage_keys


class FieldError(BaseModel):
    field: str | None
    reason: str
    line: int | None = None


class ProblemOut(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError]


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error statuses."""
    return {s: {"model": ProblemOut, "content": {"application/problem+json": {}}} for s in statuses}
