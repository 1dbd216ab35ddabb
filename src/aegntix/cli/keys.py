"""`aegntix keys create|list|revoke`: API keys, managed from the machine the database is on."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from aegntix.cli.common import DbOption, JsonOption, console, emit_json, handles_errors, opened
from aegntix.security.keys import create_key, list_keys, revoke_key
from aegntix.security.roles import Role

app = typer.Typer(
    help="Manage API keys (tenants are created with their first key).",
    no_args_is_help=True,
)


@app.command()
@handles_errors
def create(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant id (e.g. default).")],
    role: Annotated[Role, typer.Option("--role", help="owner, admin, editor, viewer, service.")],
    name: Annotated[str, typer.Option("--name", help="A label for the key.")] = "",
    db: DbOption = "aegntix.db",
    json_out: JsonOption = False,
) -> None:
    """Mint a key. It is printed once and stored only as a hash: save it now."""
    with opened(db, create=True) as store:
        key_id, key = create_key(store, tenant, role, name)
    if json_out:
        emit_json({"id": key_id, "key": key, "tenant_id": tenant, "role": role.value})
    else:
        console.print(f"key {key_id} ({role.value} of tenant '{tenant}'), shown once:")
        print(key)


@app.command("list")
@handles_errors
def list_(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant.")] = None,
    db: DbOption = "aegntix.db",
    json_out: JsonOption = False,
) -> None:
    """List keys (never their secrets)."""
    with opened(db) as store:
        found = list_keys(store, tenant)
    if json_out:
        emit_json(found)
        return
    table = Table("id", "tenant", "role", "name", "created", "status")
    for k in found:
        status = "active" if k.active else f"revoked {k.revoked_at:%Y-%m-%d %H:%M}"
        table.add_row(
            k.id, k.tenant_id, k.role.value, k.name, f"{k.created_at:%Y-%m-%d %H:%M}", status
        )
    console.print(table)


@app.command()
@handles_errors
def revoke(
    key_id: Annotated[str, typer.Argument(help="Key id (the part after 'agx_').")],
    db: DbOption = "aegntix.db",
    json_out: JsonOption = False,
) -> None:
    """Revoke a key; it stops working at once (other server processes: within seconds)."""
    with opened(db) as store:
        key = revoke_key(store, key_id)
    if json_out:
        emit_json(key)
    else:
        console.print(f"revoked {key.id} ({key.role.value} of tenant '{key.tenant_id}')")
