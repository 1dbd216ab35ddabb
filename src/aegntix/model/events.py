"""Events and branches: the timeline's vocabulary (DESIGN §3).

Plain frozen dataclasses, not pydantic: they are created and read in hot loops.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

GENESIS_HASH = "0" * 64


class EventKind(StrEnum):
    MESSAGE = "message"
    ACTION = "action"
    TOOL_CALL = "tool_call"
    TOOL_RESULT = "tool_result"
    INJECTION = "injection"
    WORLD = "world"
    MEMORY = "memory"
    SYSTEM = "system"
    DECISION = "decision"


class BranchStatus(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event not yet appended: the store assigns seq, hash and created_at."""

    step: int
    kind: EventKind
    payload: dict[str, Any]
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """An appended event. ``seq`` is the position in the branch's logical sequence
    (ancestors' events up to the fork point count), dense from 1."""

    branch_id: str
    seq: int
    step: int
    kind: EventKind
    agent_id: str | None
    payload: dict[str, Any]
    hash: str
    prev_hash: str
    created_at: datetime | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The one JSON form of an event: REST pages, the WebSocket stream, the bus."""
        return {
            "branch_id": self.branch_id,
            "seq": self.seq,
            "step": self.step,
            "kind": self.kind.value,
            "agent_id": self.agent_id,
            "payload": self.payload,
            "hash": self.hash,
            "prev_hash": self.prev_hash,
            "created_at": None if self.created_at is None else self.created_at.isoformat(),
        }

    @classmethod
    def from_json(cls, m: dict[str, Any]) -> Event:
        created = m.get("created_at")
        return cls(
            branch_id=str(m["branch_id"]),
            seq=int(m["seq"]),
            step=int(m["step"]),
            kind=EventKind(m["kind"]),
            agent_id=m.get("agent_id"),
            payload=dict(m["payload"]),
            hash=str(m["hash"]),
            prev_hash=str(m["prev_hash"]),
            created_at=None if created is None else datetime.fromisoformat(created),
        )


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a branch's last run failed: kept on the branch row (not an event: a failure is no
    part of the timeline, so forks and hashes never see it), cleared when it runs again."""

    type: str  # the error's class, e.g. "ProviderError", "ExpressionFailed", "InternalError"
    detail: str  # one readable line, scrubbed of secrets
    step: int  # the step that failed (the last completed step + 1)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "detail": self.detail, "step": self.step}

    def line(self, branch_id: str) -> str:
        """``branch 1a2b… failed at step 3: <reason>``."""
        return f"branch {branch_id} failed at step {self.step}: {self.detail}"

    @classmethod
    def from_json(cls, value: Any) -> Failure | None:
        if not isinstance(value, dict):
            return None
        return cls(str(value.get("type", "")), str(value.get("detail", "")), int(value["step"]))


@dataclass(frozen=True, slots=True)
class Branch:
    id: str
    scenario_id: str
    parent_id: str | None
    fork_seq: int  # last inherited seq of the parent's logical sequence; 0 for a root
    fork_step: int  # last inherited step; 0 for a root
    seed: int
    label: str
    status: BranchStatus
    head_seq: int  # last seq of the logical sequence (== fork_seq when nothing own yet)
    head_step: int
    head_hash: str
    created_at: datetime | None = field(default=None, compare=False)
    tenant_id: str = "default"
    failure: Failure | None = None  # set while ``status`` is ``failed``


@dataclass(frozen=True, slots=True)
class ScenarioRecord:
    id: str
    name: str
    spec: dict[str, Any]  # the validated scenario, as JSON
    spec_hash: str
    created_at: datetime | None = field(default=None, compare=False)
    tenant_id: str = "default"
    spec_version: int = 1  # the schema version ``spec`` was written for


_REFERENCE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_encode_str: Any = json.encoder.encode_basestring


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8 kept — exactly
    ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``. It
    calls the C encoder that ``json.dumps`` ends in directly: ``dumps`` builds an encoder
    object and its closures on every call, which cost as much as encoding a small event
    payload (a test holds the two equal for any JSON value). orjson is not a substitute: it
    writes ``1e-7`` for ``1e-07``, ``null`` for NaN and refuses integers past 64 bits, so
    recorded hashes would change."""
    if _make_encoder is None or isinstance(value, str):
        return _REFERENCE.encode(value)
    # a fresh ``markers`` dict per call: circular references still raise ValueError
    encode = _make_encoder({}, _REFERENCE.default, _encode_str, None, ":", ",", True, False, True)
    return "".join(encode(value, 0))


def canonical_encoder() -> Callable[[Any], str]:
    """:func:`canonical_json` for many values in a row (a batch of events): the encoder is
    built once. Its ``markers`` dict is empty again after each value it encodes; after one
    that raises it may not be, so drop the encoder then (callers abandon the batch)."""
    if _make_encoder is None:
        return canonical_json
    encode = _make_encoder({}, _REFERENCE.default, _encode_str, None, ":", ",", True, False, True)

    def dumps(value: Any) -> str:
        if isinstance(value, str):
            return _REFERENCE.encode(value)
        return "".join(encode(value, 0))

    return dumps


def event_hash(
    prev_hash: str, seq: int, step: int, kind: str, agent_id: str | None, payload: Any
) -> str:
    """``H(prev_hash ‖ canonical event)``. The branch id and wall-clock time are left out on
    purpose, so a fork that reproduces its parent reproduces its hashes too (invariant 3)."""
    body = canonical_json([seq, step, str(kind), agent_id, payload])
    return hashlib.sha256(prev_hash.encode("ascii") + body.encode("utf-8")).hexdigest()
