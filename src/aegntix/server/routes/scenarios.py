"""Scenarios: create (YAML/JSON body or upload), list, get, validate, delete; examples."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
from pathlib import Path
from typing import Any

import yaml
from fastapi import APIRouter, Request, Response
from starlette.datastructures import UploadFile

from aegntix.brains.reachability import origin
from aegntix.engine.runner import start_scenario
from aegntix.errors import AegntixError, Conflict
from aegntix.memory.profiles import ProfileStore, load_profile_file
from aegntix.model.loading import MAX_FILE_BYTES, Checked, check_file, check_text
from aegntix.model.parsing import load_yaml
from aegntix.server.deps import DeleteStore, ReadStore, Runs, ScenarioId, WriteStore
from aegntix.server.problems import Problem
from aegntix.server.schemas import (
    CreatedScenario,
    ExampleOut,
    ScenarioOut,
    ValidateOut,
    branch_json,
    problem_responses,
    scenario_json,
)
from aegntix.timeline.tenancy import TenantStore

# tags per route: a router-wide tag would list the examples routes twice in /docs
router = APIRouter(
    prefix="/v1",
    responses=problem_responses(401, 403, 404, 422),
)

YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})
JSON_TYPES = frozenset({"application/json"})
_EXAMPLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")

_SCENARIO_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A scenario (see `aegntix schema`) as YAML or JSON text, or a "
        "multipart upload in the field `file`.",
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "text/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
}


def _field_problem(status: int, field: str, reason: str) -> Problem:
    return Problem(status, f"{field}: {reason}", errors=[{"field": field, "reason": reason}])


async def _scenario_text(request: Request) -> tuple[str, str, bool]:
    """(text, source name, as_json) of the request's scenario, from the body or upload."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    source = "<body>"
    if ctype == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=10)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise _field_problem(422, "file", "a multipart upload needs a file in field 'file'")
        data = await upload.read(MAX_FILE_BYTES + 1)
        source = Path(upload.filename or "upload").name[:200] or "upload"
        as_json = source.lower().endswith(".json")
    elif ctype in YAML_TYPES or ctype in JSON_TYPES:
        data = await request.body()
        as_json = ctype in JSON_TYPES
    else:
        raise Problem(
            415,
            f"content type '{ctype or 'none'}' is not accepted: send application/yaml, "
            "text/yaml, application/json or a multipart/form-data upload",
            errors=[{"field": "content-type", "reason": "unsupported"}],
        )
    if len(data) > MAX_FILE_BYTES:
        raise _field_problem(413, "body", f"a scenario is at most {MAX_FILE_BYTES:,} bytes")
    if not data.strip():
        raise _field_problem(422, "body", "the scenario is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _field_problem(422, "body", "the scenario is not UTF-8 text") from None
    return text, source, as_json


async def _parse(request: Request) -> Checked:
    text, source, as_json = await _scenario_text(request)
    return await asyncio.to_thread(check_text, text, source=source, as_json=as_json)


def create_checked(store: TenantStore, checked: Checked) -> dict[str, Any]:
    """Record a validated scenario and its root branch (REST and the MCP tools)."""
    root = start_scenario(store, checked.scenario)
    record = store.get_scenario(root.scenario_id)
    return {
        "scenario": scenario_json(record),
        "root_branch": branch_json(root),
        "warnings": [w.as_json() for w in checked.warnings],
    }


@router.post(
    "/scenarios",
    tags=["scenarios"],
    status_code=201,
    response_model=CreatedScenario,
    openapi_extra=_SCENARIO_BODY,
    responses=problem_responses(413, 415),
)
async def create_scenario(request: Request, store: WriteStore) -> dict[str, Any]:
    """Record a scenario and its root branch (with the step-0 events); run it next. A
    scenario with problems answers 422 listing every one (field, reason, line); one that
    validates comes back with ``warnings`` (what will probably fail when run)."""
    checked = await _parse(request)
    return await asyncio.to_thread(create_checked, store, checked)


@router.post(
    "/scenarios/validate",
    tags=["scenarios"],
    response_model=ValidateOut,
    openapi_extra=_SCENARIO_BODY,
    responses=problem_responses(413, 415),
)
async def validate_scenario(request: Request, store: ReadStore) -> dict[str, Any]:
    """Check a scenario without recording it: 422 lists every problem (field, reason,
    line); a valid one answers with its ``warnings``."""
    checked = await _parse(request)
    return {
        "ok": True,
        "name": checked.scenario.name,
        "agents": len(checked.scenario.agents),
        "warnings": [w.as_json() for w in checked.warnings],
    }


@router.get(
    "/scenarios",
    tags=["scenarios"],
    response_model=list[ScenarioOut],
    response_model_exclude_none=True,
)
def list_scenarios(store: ReadStore) -> list[dict[str, Any]]:
    """This tenant's scenarios, oldest first (without their specs)."""
    return [scenario_json(s, spec=False) for s in store.list_scenarios()]


@router.get("/scenarios/{scenario_id}", tags=["scenarios"], response_model=ScenarioOut)
def get_scenario(scenario_id: ScenarioId, store: ReadStore) -> dict[str, Any]:
    return scenario_json(store.get_scenario(scenario_id))


@router.delete(
    "/scenarios/{scenario_id}", tags=["scenarios"], status_code=204, response_class=Response
)
async def delete_scenario(scenario_id: ScenarioId, store: DeleteStore, runs: Runs) -> Response:
    """Soft delete (admin): the scenario and its branches disappear from the API and stop
    running; their events stay on disk (the timeline is append-only)."""
    await asyncio.to_thread(store.get_scenario, scenario_id)
    branches = await asyncio.to_thread(store.list_branches, scenario_id)
    await runs.stop_scenario([b.id for b in branches])
    await asyncio.to_thread(store.delete_scenario, scenario_id)
    return Response(status_code=204)


# -- examples ------------------------------------------------------------------------------
def examples_dir() -> Path | None:
    """``AEGNTIX_EXAMPLES``, else the repository's ``examples/``, else ``./examples``."""
    env = os.environ.get("AEGNTIX_EXAMPLES")
    candidates = (
        [Path(env)]
        if env
        else [Path(__file__).resolve().parents[4] / "examples", Path.cwd() / "examples"]
    )
    return next((c for c in candidates if c.is_dir()), None)


def example_files() -> dict[str, Path]:
    """Example name -> file: each ``*.yaml`` of the folder, and the first chapter of the
    persistent-agent story (``persistent/1-van-sale.yaml`` is ``persistent-van-sale``)."""
    folder = examples_dir()
    if folder is None:
        return {}
    found = {
        p.stem: p
        for p in sorted(folder.iterdir())
        if p.suffix in {".yaml", ".yml"} and _EXAMPLE_NAME.match(p.stem) and p.is_file()
    }
    for p in sorted((folder / "persistent").glob("1-*.yaml")):
        name = f"persistent-{p.stem.removeprefix('1-')}"
        if _EXAMPLE_NAME.match(name) and p.is_file():
            found[name] = p
    return found


def ensure_example_profiles(store: TenantStore) -> None:
    """Create the persistent agents the examples cast (``persistent/*.yaml`` profile files)
    that this tenant does not have. A deleted one stays deleted: ids are never reused."""
    folder = examples_dir()
    if folder is None:
        return
    profiles = ProfileStore(store)
    known = {p.id for p in profiles.list_profiles()}
    for path in sorted((folder / "persistent").glob("*.yaml")):
        if path.name[0].isdigit():
            continue
        spec = load_profile_file(path)
        if spec.id not in known:
            with contextlib.suppress(Conflict):
                profiles.create(spec.id, spec.name, spec.persona, spec.description)


def unique_name(store: TenantStore, name: str) -> str:
    """``name``, or ``name (2)``, ``name (3)``… if this tenant already has a scenario so named:
    starting an example again is a new run, told apart by its number."""
    taken = {s.name for s in store.list_scenarios()}
    n = 1
    candidate = name
    while candidate in taken:
        n += 1
        candidate = f"{name} ({n})"
    return candidate


def _describe(name: str, path: Path) -> dict[str, Any]:
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, ValueError):  # ValueError: not UTF-8, nested too deeply
        data = None
    info = data if isinstance(data, dict) else {}
    description = info.get("description")
    title = info.get("name")
    return {
        "name": name,
        "file": path.relative_to(path.parent.parent).as_posix()
        if path.parent.name == "persistent"
        else path.name,
        "title": title if isinstance(title, str) else path.stem,
        "description": description.strip() if isinstance(description, str) else None,
        **_model_needs(path),
    }


def _model_needs(path: Path) -> dict[str, Any]:
    """Whether the example's agents think with a model (then it needs a model server)."""
    try:
        scenario = check_file(path).scenario
    except AegntixError:
        return {"needs_model": False, "model_servers": []}
    configs = [scenario.brain_for(a) for a in scenario.agents]
    remote = [c for c in configs if c.kind != "rules"]
    servers = sorted({o for c in remote if (o := origin(c.base_url)) is not None})
    return {"needs_model": bool(remote), "model_servers": servers}


@functools.lru_cache(maxsize=256)
def _described(name: str, path: Path, mtime_ns: int, size: int) -> dict[str, Any]:
    return _describe(name, path)


def _list_examples() -> list[dict[str, Any]]:
    # validating every example took ~0.7 s per request (the home page asks for them): each
    # file is described once per version of it (mtime and size), then from memory
    listed = []
    for name, path in example_files().items():
        try:
            stat = path.stat()
        except OSError:
            continue
        listed.append(dict(_described(name, path, stat.st_mtime_ns, stat.st_size)))
    return listed


@router.get("/examples", response_model=list[ExampleOut], tags=["examples"])
async def list_examples(store: ReadStore) -> list[dict[str, Any]]:
    """The example scenarios shipped with AegntiX."""
    return await asyncio.to_thread(_list_examples)


def _create_example(store: TenantStore, name: str) -> dict[str, Any]:
    path = example_files().get(name) if _EXAMPLE_NAME.match(name) else None
    if path is None:
        raise Problem(404, f"no example '{name}'", slug="not-found")
    checked = check_file(path)
    ensure_example_profiles(store)
    name = unique_name(store, checked.scenario.name)
    renamed = checked.scenario.model_copy(update={"name": name})
    return create_checked(store, Checked(renamed, checked.warnings))


@router.post("/examples/{name}", status_code=201, response_model=CreatedScenario, tags=["examples"])
async def create_example(name: str, store: WriteStore) -> dict[str, Any]:
    """Record an example scenario (by name, e.g. ``town-hall``) and its root branch. Each
    call is a new run: a second one of the same example is named ``<title> (2)``, and so on."""
    return await asyncio.to_thread(_create_example, store, name)
