"""Stored spec versions: migration 0008 gives old scenarios version 1 on both backends, new
ones record today's version, and stored specs are upgraded through the step table before
they are validated."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from aegntix.errors import ScenarioInvalid
from aegntix.model.events import ScenarioRecord
from aegntix.model.stored import SPEC_VERSION, scenario_from, scenario_of, upgraded
from aegntix.timeline import open_store
from aegntix.timeline.migrate import alembic_config
from tests.support import example


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_scenarios_stored_before_0008_read_as_version_1(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    db = str(tmp_path / "old.db") if backend == "sqlite" else request.getfixturevalue("pg_url")
    url = f"sqlite:///{db}" if backend == "sqlite" else db.replace("://", "+psycopg://", 1)
    spec = example("negotiation").model_dump(mode="json")
    engine = create_engine(url)
    with engine.begin() as conn:  # a database as release 0007 left it, with one scenario
        command.upgrade(alembic_config(conn), "0007")
        conn.execute(
            text(
                "INSERT INTO scenarios (id, tenant_id, name, spec, spec_hash, created_at)"
                " VALUES ('old', 'default', 'old', :spec, 'h-old', :at)"
            ),
            {"spec": json.dumps(spec), "at": datetime.now(UTC)},
        )
    engine.dispose()
    store = open_store(db)  # migrates to 0008
    try:
        old = store.get_scenario("old")
        assert old.spec_version == 1
        branch = store.create_branch(old.id, seed=1)
        assert scenario_of(store, branch.id).name == spec["name"]
        new = store.create_scenario("new", spec)
        assert store.get_scenario(new.id).spec_version == SPEC_VERSION
    finally:
        store.close()


def _renamed(spec: dict[str, Any]) -> dict[str, Any]:
    """An example step: version 1 called the topic ``subject``."""
    out = dict(spec)
    out["topic"] = out.pop("subject")
    return out


def test_old_specs_are_upgraded_step_by_step_before_validating() -> None:
    steps = {1: _renamed, 2: lambda spec: spec}  # 2 -> 3 is an identity step
    stored = {"name": "x", "subject": "vans"}
    assert upgraded(stored, 1, current=3, steps=steps) == {"name": "x", "topic": "vans"}
    assert upgraded(stored, 3, current=3, steps=steps) is stored
    with pytest.raises(ScenarioInvalid, match="no upgrade from spec version 1 to 2"):
        upgraded(stored, 1, current=2, steps={})


def test_a_spec_newer_than_this_program_is_refused_clearly() -> None:
    spec = example("negotiation").model_dump(mode="json")
    record = ScenarioRecord("s", "s", spec, "h-future", spec_version=SPEC_VERSION + 1)
    with pytest.raises(ScenarioInvalid) as error:
        scenario_from(record)
    assert error.value.field == "spec_version"
    assert f"spec version {SPEC_VERSION + 1}" in str(error.value)
