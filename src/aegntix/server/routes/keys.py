"""API keys of the caller's tenant: create (shown once), list, revoke. Admin or owner."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response

from aegntix.security.keys import ApiKey, create_key, list_keys, revoke_key
from aegntix.security.roles import Role
from aegntix.server.deps import KeyManager, get_store
from aegntix.server.problems import Problem
from aegntix.server.schemas import KeyCreated, KeyOut, KeyRequest, problem_responses

router = APIRouter(
    prefix="/v1/keys",
    tags=["keys"],
    responses=problem_responses(401, 403, 404, 422),
)


def key_json(k: ApiKey) -> dict[str, Any]:
    return {
        "id": k.id,
        "role": k.role.value,
        "name": k.name,
        "tenant_id": k.tenant_id,
        "created_at": k.created_at.isoformat(),
        "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
        "active": k.active,
    }


@router.post("", status_code=201, response_model=KeyCreated)
async def create(body: KeyRequest, request: Request, principal: KeyManager) -> dict[str, Any]:
    """Mint a key for this tenant. The ``key`` is in this answer only: store it now. A key
    cannot have a role above its creator's."""
    role = Role(body.role)
    if not principal.role.covers(role):
        raise Problem(
            403,
            f"a '{principal.role.value}' key cannot create a '{role.value}' key",
            errors=[{"field": "role", "reason": "above the caller's own role"}],
        )
    store = get_store(request.app)
    key_id, key = await asyncio.to_thread(create_key, store, principal.tenant_id, role, body.name)
    return {
        "id": key_id,
        "key": key,
        "role": role.value,
        "name": body.name or f"{role.value} key",
        "tenant_id": principal.tenant_id,
    }


@router.get("", response_model=list[KeyOut])
def list_(request: Request, principal: KeyManager) -> list[dict[str, Any]]:
    """This tenant's keys (never their secrets), active and revoked."""
    return [key_json(k) for k in list_keys(get_store(request.app), principal.tenant_id)]


@router.delete("/{key_id}", status_code=204, response_class=Response)
async def revoke(key_id: str, request: Request, principal: KeyManager) -> Response:
    """Revoke a key of this tenant (idempotent). It stops working at once."""
    store = get_store(request.app)
    await asyncio.to_thread(revoke_key, store, key_id, principal.tenant_id)
    return Response(status_code=204)
