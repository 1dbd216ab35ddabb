"""`aegntix agents ...`: persistent agents (profiles) and `aegntix memories`: what agents
remembered in a branch, and why they said what they said."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError
from rich.table import Table

from aegntix.cli.common import (
    DbOption,
    JsonOption,
    console,
    emit_json,
    handles_errors,
    opened,
    parse_assignments,
    resolve_branch,
)
from aegntix.errors import InvalidRequest
from aegntix.memory.profiles import Profile, ProfileStore, load_profile_file, profile_spec
from aegntix.memory.queries import branch_memories, why
from aegntix.memory.records import Memory
from aegntix.model.parsing import load_yaml, yaml_error_line
from aegntix.model.scenario import BIG_FIVE, Persona

app = typer.Typer(
    help="Persistent agents: personas and memories that outlive a scenario. A scenario's "
    "agent names one with `profile: ID`; `aegntix agents commit BRANCH` keeps that branch's "
    "experience.",
    no_args_is_help=True,
)


def _persona(file: Path | None, traits: list[str], base: Any = None) -> Persona:
    data: dict[str, Any] = dict(base) if isinstance(base, dict) else {}
    if file is not None:
        try:
            loaded = load_yaml(file.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:  # one line, not the parser's multi-line dump
            raise InvalidRequest(
                f"--persona: {file}: invalid YAML: {yaml_error_line(exc)}"
            ) from None
        except (OSError, ValueError) as exc:  # unreadable, not UTF-8, nested too deeply
            raise InvalidRequest(f"--persona: cannot read {file}: {exc}") from None
        if not isinstance(loaded, dict):
            raise InvalidRequest(f"--persona: {file} must hold a mapping of traits")
        data.update(loaded)
    data.update(parse_assignments(traits))
    try:
        return Persona.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "persona"
        raise InvalidRequest(f"persona.{where}: {first['msg']}") from None


def _traits_line(p: Profile) -> str:
    core = p.persona.big_five()
    parts = []
    for t in BIG_FIVE:
        now, was = p.traits[t], core[t]
        parts.append(
            f"{t[:5]} {now:.2f}" + (f" ({now - was:+.2f})" if abs(now - was) > 1e-9 else "")
        )
    return ", ".join(parts)


@app.command()
@handles_errors
def create(
    profile_id: Annotated[
        str | None,
        typer.Argument(
            metavar="[ID]", help="Id, e.g. mara (letters, digits, - _); or from --file."
        ),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="A profile file: id, name, description, persona (YAML)."),
    ] = None,
    trait: Annotated[
        list[str],
        typer.Option("--trait", help="TRAIT=VALUE, e.g. agreeableness=0.3 (repeatable)."),
    ] = [],  # noqa: B006 - typer reads the default
    persona: Annotated[
        Path | None, typer.Option("--persona", help="YAML/JSON file with just the persona.")
    ] = None,
    description: Annotated[str | None, typer.Option("--description", help="Free text.")] = None,
    db: DbOption = "aegntix.db",
    json_out: JsonOption = False,
) -> None:
    """Create a persistent agent with a core persona (Big Five 0..1, adaptive traits,
    adaptation_rate, stability_threshold), from options or a profile file."""
    spec = load_profile_file(file).model_dump() if file is not None else {}
    if profile_id is not None:
        spec["id"] = profile_id
    if name is not None:
        spec["name"] = name
    if description is not None:
        spec["description"] = description
    if persona is not None or trait:
        spec["persona"] = _persona(persona, trait, base=spec.get("persona"))
    for needed in ("id", "name"):
        if needed not in spec:
            raise InvalidRequest(f"{needed}: give it (argument/option) or in --file")
    made = profile_spec(spec, where="agent")
    with opened(db, create=True) as store:
        profile = ProfileStore(store).create(made.id, made.name, made.persona, made.description)
    if json_out:
        emit_json(profile.as_json())
    else:
        console.print(f"created persistent agent [bold]{profile.id}[/] ({profile.name})")


@app.command("list")
@handles_errors
def list_(db: DbOption = "aegntix.db", json_out: JsonOption = False) -> None:
    """List persistent agents."""
    with opened(db) as store:
        profiles = ProfileStore(store).list_profiles()
    if json_out:
        emit_json([p.as_json() for p in profiles])
        return
    table = Table("id", "name", "version", "lived steps", "consistency", "traits (drift)")
    for p in profiles:
        table.add_row(
            p.id,
            p.name,
            str(p.version),
            str(p.lived_steps),
            f"{p.consistency:.3f}",
            _traits_line(p),
        )
    console.print(table)


@app.command()
@handles_errors
def show(
    profile_id: Annotated[str, typer.Argument(metavar="ID")],
    db: DbOption = "aegntix.db",
    json_out: JsonOption = False,
) -> None:
    """A persistent agent: persona (core and current), versions, and the scenarios and
    branches it took part in."""
    with opened(db) as store:
        profiles = ProfileStore(store)
        profile = profiles.get(profile_id)
        versions = profiles.versions(profile_id)
        history = profiles.history(profile_id)
    if json_out:
        emit_json(
            {
                **profile.as_json(),
                "versions": [v.as_json() for v in versions],
                "history": [h.as_json() for h in history],
            }
        )
        return
    console.print(
        f"[bold]{profile.name}[/] ({profile.id}) · version {profile.version} · "
        f"{profile.lived_steps} steps lived · consistency {profile.consistency:.3f} "
        f"(refuses below {profile.persona.stability_threshold})"
    )
    table = Table("trait", "core", "current", "adaptive", title="persona", title_justify="left")
    core = profile.persona.big_five()
    for t in BIG_FIVE:
        table.add_row(
            t,
            f"{core[t]:.2f}",
            f"{profile.traits[t]:.2f}",
            "yes" if t in profile.persona.adaptive else "",
        )
    console.print(table)
    vt = Table(
        "version",
        "kept branch",
        "scenario",
        "as agent",
        "memories",
        "lived",
        title="versions",
        title_justify="left",
    )
    for v in versions:
        vt.add_row(
            str(v.version),
            v.branch_id or "(created)",
            v.scenario_id or "",
            v.agent_id or "",
            str(v.memories),
            str(v.lived_steps),
        )
    console.print(vt)
    ht = Table(
        "scenario",
        "as agent",
        "from version",
        "branches",
        "kept",
        title="history",
        title_justify="left",
    )
    for h in history:
        names = ", ".join(f"{b['label']}:{b['id'][:8]}" for b in h.branches)
        ht.add_row(
            f"{h.scenario} ({h.scenario_id[:8]})",
            h.agent_id,
            str(h.version),
            names,
            h.kept_branch or "—",
        )
    console.print(ht)


@app.command()
@handles_errors
def commit(
    branch: Annotated[
        str, typer.Argument(help="Branch whose experience to keep (id, prefix or label).")
    ],
    agent: Annotated[
        list[str], typer.Option("--agent", help="Only this agent (repeatable); default all.")
    ] = [],  # noqa: B006 - typer reads the default
    db: DbOption = "aegntix.db",
    json_out: JsonOption = False,
) -> None:
    """Keep a branch's experience: its persistent agents take that branch's memories and the
    persona they ended with into their next scenario. One branch per scenario."""
    with opened(db) as store:
        chosen = resolve_branch(store, branch)
        made = ProfileStore(store).commit(chosen.id, agent or None)
    if json_out:
        emit_json([v.as_json() for v in made])
        return
    for v in made:
        console.print(
            f"[green]kept[/] branch {chosen.id} for agent {v.agent_id}: version {v.version}, "
            f"{v.memories} memories, {v.lived_steps} steps lived"
        )


@app.command()
@handles_errors
def update(
    profile_id: Annotated[str, typer.Argument(metavar="ID")],
    name: Annotated[str | None, typer.Option("--name", help="New display name.")] = None,
    description: Annotated[str | None, typer.Option("--description", help="New text.")] = None,
    db: DbOption = "aegntix.db",
    json_out: JsonOption = False,
) -> None:
    """Rename or re-describe a persistent agent (its persona changes only by experience)."""
    if name is None and description is None:
        raise InvalidRequest("give --name and/or --description")
    if name is not None and not name.strip():
        raise InvalidRequest("name: must not be empty")
    with opened(db) as store:
        profile = ProfileStore(store).update(profile_id, name=name, description=description)
    if json_out:
        emit_json(profile.as_json())
    else:
        console.print(f"updated persistent agent [bold]{profile.id}[/] ({profile.name})")


@app.command()
@handles_errors
def delete(
    profile_id: Annotated[str, typer.Argument(metavar="ID")], db: DbOption = "aegntix.db"
) -> None:
    """Delete a persistent agent (scenarios that used it still replay)."""
    with opened(db) as store:
        ProfileStore(store).delete(profile_id)
    console.print(f"deleted persistent agent {profile_id}")


@app.command()
@handles_errors
def memories(
    profile_id: Annotated[str, typer.Argument(metavar="ID")],
    version: Annotated[int | None, typer.Option("--version", help="Up to this version.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Newest N (0: all).")] = 50,
    db: DbOption = "aegntix.db",
    json_out: JsonOption = False,
) -> None:
    """A persistent agent's committed (long-term) memories."""
    with opened(db) as store:
        found = ProfileStore(store).memories(profile_id, version)
    shown = found[-limit:] if limit else found
    if json_out:
        emit_json([m.as_json() for m in shown])
        return
    _memory_table(shown, f"{profile_id}: {len(found)} committed memories (showing {len(shown)})")


def _memory_table(found: list[Memory], title: str) -> None:
    table = Table("ref", "step", "tier", "kind", "imp", "text", title=title, title_justify="left")
    for m in found:
        table.add_row(
            m.ref,
            "" if m.step is None else str(m.step),
            m.tier.value,
            m.kind,
            f"{m.importance:g}",
            m.text,
        )
    console.print(table)


@handles_errors
def memories_command(
    branch: Annotated[str, typer.Argument(help="Branch id (or unique prefix, or label).")],
    agent: Annotated[str | None, typer.Option("--agent", help="Only this agent.")] = None,
    step: Annotated[int | None, typer.Option("--step", help="Up to this step.")] = None,
    why_seq: Annotated[
        int | None,
        typer.Option(
            "--why", metavar="SEQ", help="What the agent recalled when it said/did event SEQ."
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Newest N (0: all).")] = 50,
    db: DbOption = "aegntix.db",
    json_out: JsonOption = False,
) -> None:
    """What agents remember in a branch (memory on), or with --why SEQ the memories recalled
    for one decision and their scores: "why did the agent say this?"."""
    with opened(db) as store:
        chosen = resolve_branch(store, branch)
        if why_seq is not None:
            answer = why(store, chosen.id, why_seq)
            if json_out:
                emit_json(answer.as_json())
                return
            text = answer.event.payload.get("text") or answer.event.payload.get("action") or ""
            asked = answer.event
            console.print(
                f"[bold]{asked.agent_id}[/] at step {asked.step} (seq {asked.seq}): {text}"
            )
            table = Table(
                "score",
                "recency",
                "importance",
                "relevance",
                "tier",
                "memory",
                title="recalled, best first",
                title_justify="left",
            )
            for m, r in answer.recalled:
                table.add_row(
                    f"{r.score:.3f}",
                    f"{r.recency:.3f}",
                    f"{r.importance:.2f}",
                    f"{r.relevance:.3f}",
                    m.tier.value,
                    m.text,
                )
            console.print(table)
            return
        found = branch_memories(store, chosen.id, agent_id=agent, upto_step=step)
    shown = found[-limit:] if limit else found
    if json_out:
        emit_json([{**m.as_json(), "agent_id": m.agent_id} for m in shown])
        return
    _memory_table(
        shown, f"branch {chosen.id}: {len(found)} memories (showing the newest {len(shown)})"
    )
