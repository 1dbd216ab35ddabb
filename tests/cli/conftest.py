"""CLI fixtures, on both backends: ``db`` is what ``--db`` takes (a SQLite file path, then the
URL of a fresh PostgreSQL schema), ``databases`` hands out more empty ones of the same backend
for tests that compare two databases (``module_db``, tests/conftest.py, serves module-scoped
fixtures). Tests kept on SQLite alone say why where they are."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ..postgres import SessionDatabase, schema_is_empty


@dataclass(frozen=True)
class Databases:
    """New, empty databases of one backend: files in ``folder``, or schemas of ``pg``."""

    folder: Path
    pg: SessionDatabase | None = None

    def new(self, name: str) -> str:
        return self.pg.new_url() if self.pg else str(self.folder / name)


def databases_for(location: str, folder: Path, request: pytest.FixtureRequest) -> Databases:
    """The ``Databases`` of ``location``'s backend."""
    if location.startswith("postgresql"):
        return Databases(folder, request.getfixturevalue("pg_database"))
    return Databases(folder)


def untouched(db: str) -> bool:
    """Nothing was ever opened at ``db``: no SQLite file, or a PostgreSQL schema with no
    table (not even the migrations' own)."""
    return schema_is_empty(db) if db.startswith("postgresql") else not Path(db).exists()


@pytest.fixture
def db(location: str) -> str:
    return location


@pytest.fixture
def databases(location: str, tmp_path: Path, request: pytest.FixtureRequest) -> Databases:
    return databases_for(location, tmp_path, request)
