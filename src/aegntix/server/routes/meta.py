"""``GET /v1/meta``: what this server knows how to do, read from the registries (injection
strategies, persona traits, brain kinds, topology kinds, scenario kinds), so clients and the
web UI hard-code none of it.
Authenticated like any read; the same for every caller, so it is tiny and cacheable (an
ETag, and ``If-None-Match`` answers 304)."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any, get_args

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel

from aegntix.inject.registry import meta as strategies_meta
from aegntix.mechanics import registered
from aegntix.model.scenario import ADAPTIVE, BIG_FIVE, BrainKind
from aegntix.model.topology import KINDS as TOPOLOGY_KINDS
from aegntix.server.deps import Reader

router = APIRouter(prefix="/v1", tags=["meta"])

#: Private: behind a key; an hour is plenty for what changes only with a deployment.
CACHE_CONTROL = "private, max-age=3600"


class ParameterOut(BaseModel):
    name: str
    type: str
    description: str
    required: bool


class StrategyOut(BaseModel):
    name: str
    description: str
    parameters: list[ParameterOut]


class TraitsOut(BaseModel):
    big_five: list[str]
    adaptive_default: list[str]
    range: list[float]


class MetaOut(BaseModel):
    strategies: list[StrategyOut]
    traits: TraitsOut
    brain_kinds: list[str]
    topology_kinds: list[str]
    mechanics: list[str]


@cache
def _meta(mechanics: tuple[str, ...]) -> tuple[dict[str, Any], str]:
    body: dict[str, Any] = {
        "strategies": strategies_meta(),
        "traits": {
            "big_five": list(BIG_FIVE),
            "adaptive_default": list(ADAPTIVE),
            "range": [0.0, 1.0],
        },
        "brain_kinds": list(get_args(BrainKind)),
        "topology_kinds": list(TOPOLOGY_KINDS),
        "mechanics": list(mechanics),
    }
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    return body, f'"{digest}"'


@router.get("/meta", response_model=MetaOut, responses={304: {"description": "Not modified"}})
async def meta(
    principal: Reader, response: Response, if_none_match: str | None = Header(default=None)
) -> Any:
    """The registered injection strategies (name, description, parameters), the persona
    traits, the brain kinds, the topology kinds and the registered scenario kinds."""
    body, etag = _meta(tuple(registered()))  # kinds may register at import: keyed by them
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if if_none_match is not None and etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return body
