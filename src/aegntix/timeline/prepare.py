"""Validation and serialization of new events, done in the caller's thread so the writer
only chains hashes and inserts; and the hash chaining itself."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from aegntix.errors import InvalidRequest
from aegntix.model.events import EventKind, NewEvent, canonical_encoder, canonical_json

_INT64 = 2**63
# By member (an enum's ``.value`` is a Python-level property: thousands of reads per step)
_KIND_JSON = {k: json.dumps(k.value) for k in EventKind}
#: A kind's text, by member: what the events table stores.
KIND_TEXT: dict[EventKind, str] = {k: k.value for k in EventKind}
# ``json.loads`` without its Python layers: the text is the encoder's own (no whitespace
# around it, one whole value), so scanning it from 0 gives exactly what ``loads`` gives.
_scan: Any = getattr(json.JSONDecoder(), "scan_once")  # noqa: B009 (untyped in typeshed)


@dataclass(slots=True)
class Prepared:
    """A validated, serialized ``NewEvent``. Built in the caller's thread so the writer only
    chains hashes and inserts. Not frozen (a frozen dataclass sets each field through
    ``object.__setattr__``: thousands per step), but never changed once built."""

    step: int
    kind: EventKind
    agent_id: str | None
    payload: dict[str, Any]  # decoded from payload_json: what a later read returns
    payload_json: str
    tail: str  # the hash body after the seq (see chain_hash)


def chain_hash(prev_hash: str, seq: int, tail: str) -> str:
    """Same bytes as ``model.events.event_hash`` (a test holds them equal) without
    re-serializing the payload inside the writer."""
    return hashlib.sha256(f"{prev_hash}[{seq}{tail}".encode()).hexdigest()


@lru_cache(maxsize=4096)
def _agent_json(agent_id: str) -> str:
    return canonical_json(agent_id)  # a handful of ids, encoded per event otherwise


def prepare(new_events: Sequence[NewEvent]) -> list[Prepared]:
    out: list[Prepared] = []
    last_step = -1
    dumps = canonical_encoder()  # one encoder for the batch (a step: thousands of events)
    for i, ev in enumerate(new_events):
        kind = ev.kind
        if type(kind) is not EventKind:  # the engine passes members; others are checked
            try:
                kind = EventKind(kind)
            except (ValueError, TypeError):
                raise InvalidRequest(
                    f"event {i}: unknown kind '{ev.kind}'", field=f"events.{i}"
                ) from None
        step = ev.step
        if not isinstance(step, int) or isinstance(step, bool) or not 0 <= step < _INT64:
            raise InvalidRequest(
                f"event {i}: step must be a non-negative integer, not {step!r}", field=f"events.{i}"
            )
        if step < last_step:
            raise InvalidRequest(
                f"event {i}: step {step} goes back from step {last_step}", field=f"events.{i}"
            )
        last_step = step
        if ev.agent_id is not None and not isinstance(ev.agent_id, str):
            raise InvalidRequest(
                f"event {i}: agent_id must be a string or None", field=f"events.{i}"
            )
        if not isinstance(ev.payload, dict):
            raise InvalidRequest(f"event {i}: payload must be a JSON object", field=f"events.{i}")
        try:
            payload_json = dumps(ev.payload)
        except (TypeError, ValueError) as exc:
            raise InvalidRequest(
                f"event {i}: payload is not JSON: {exc}", field=f"events.{i}"
            ) from None
        agent_json = "null" if ev.agent_id is None else _agent_json(ev.agent_id)
        tail = f",{int(step)},{_KIND_JSON[kind]},{agent_json},{payload_json}]"
        out.append(
            Prepared(int(step), kind, ev.agent_id, _scan(payload_json, 0)[0], payload_json, tail)
        )
    return out


#: Seeds are 0 .. 2**63 - 1 everywhere (scenario files, run, fork, the API).
SEED_MAX = 2**63 - 1


def check_seed(value: int, name: str = "seed") -> int:
    """``value`` if it is a valid seed, else ``InvalidRequest`` naming ``name``."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= SEED_MAX:
        raise InvalidRequest(f"{name}: must be an integer from 0 to {SEED_MAX}, not {value!r}")
    return value


def check_int64(name: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not -_INT64 <= value < _INT64:
        raise InvalidRequest(f"{name} must be a 64-bit integer, not {value!r}", field=name)
    return value
