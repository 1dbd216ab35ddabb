"""`aegntix report SET --out report.html`: a rollout set as one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aegntix.analysis.rollouts import repository
from aegntix.cli.common import DbOption, JsonOption, console, emit_json, handles_errors, opened
from aegntix.timeline.schema import DEFAULT_TENANT
from aegntix.timeline.store import Store
from aegntix.timeline.tenancy import TenantStore


@handles_errors
def report(
    set_ref: Annotated[str, typer.Argument(help="Rollout set id (or unique prefix, 4+ chars).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")],
    vs: Annotated[
        str | None,
        typer.Option("--vs", help="Compare with this set (default: the set's own control)."),
    ] = None,
    tenant: Annotated[
        str, typer.Option("--tenant", help="The tenant whose set it is.")
    ] = DEFAULT_TENANT,
    db: DbOption = "aegntix.db",
    json_out: JsonOption = False,
) -> None:
    """Write the set's report: the effect of each outcome in words with its interval,
    charts (rates, distributions, fan chart, per-agent effects), the members and the method.
    One HTML file with inline SVG: no script, no internet, fit to attach to an email. A set
    with no finished member is refused (nothing to report yet); a partly finished one is
    reported over its finished members, with a note."""
    from aegntix.analysis.report import build_report, write_report  # scipy: paid when used

    with opened(db) as sql:
        store: Store = sql if tenant == DEFAULT_TENANT else TenantStore(sql, tenant)
        repo = repository(store)
        set_id = repo.resolve(set_ref)
        other = repo.resolve(vs) if vs else None
        html = build_report(store, set_id, vs=other)
    size = write_report(html, out)
    if json_out:
        emit_json({"path": str(out.resolve()), "bytes": size})
        return
    console.print(f"report of set [bold]{set_id}[/] → {out} ({size:,} bytes)", soft_wrap=True)
