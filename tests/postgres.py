"""The machine's PostgreSQL for tests: one fresh database per test session, one schema per
store in it (so every store starts empty, as a new SQLite file does).

Where: ``AEGNTIX_TEST_PG`` (a URL to connect to for ``CREATE DATABASE``), else 127.0.0.1:5432
as ``postgres`` or the current user, database ``test`` or ``postgres`` (trust auth). If none
answers the tests fail saying so: ``scripts/ensure-postgres`` starts or installs a server.
"""

from __future__ import annotations

import getpass
import itertools
import os
import secrets
from urllib.parse import quote

import psycopg
from psycopg import sql

HOST = "127.0.0.1:5432"


def _candidates() -> list[str]:
    given = os.environ.get("AEGNTIX_TEST_PG")
    if given:
        return [given]
    users = dict.fromkeys(["postgres", getpass.getuser()])
    return [f"postgresql://{u}@{HOST}/{db}" for u in users for db in ("test", "postgres")]


def _admin_url() -> str:
    reasons = []
    for url in _candidates():
        try:
            with psycopg.connect(url, connect_timeout=5):
                return url
        except psycopg.Error as exc:
            reasons.append(f"{url}: {str(exc).strip().splitlines()[0]}")
    raise RuntimeError(
        "PostgreSQL is needed for the tests and did not answer "
        f"({'; '.join(reasons)}); run scripts/ensure-postgres"
    )


class SessionDatabase:
    """A database made for this test session (``aegntix_test_<random>``), dropped by
    :meth:`drop`. :meth:`new_url` hands out URLs of fresh, empty schemas in it."""

    def __init__(self) -> None:
        self._admin = _admin_url()
        self.name = f"aegntix_test_{secrets.token_hex(4)}"
        with psycopg.connect(self._admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        base = psycopg.conninfo.conninfo_to_dict(self._admin)
        user, host, port = base.get("user"), base.get("host"), base.get("port") or 5432
        self.url = f"postgresql://{user}@{host}:{port}/{self.name}"
        self._counter = itertools.count()

    def new_url(self) -> str:
        """A URL whose ``search_path`` is a new empty schema of the session database."""
        schema = f"s{next(self._counter)}_{secrets.token_hex(3)}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        return f"{self.url}?options={quote(f'-csearch_path={schema}', safe='')}"

    def drop(self) -> None:
        with psycopg.connect(self._admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
            )


def schema_is_empty(url: str) -> bool:
    """Whether the schema ``url`` points at (its ``search_path``) holds no table at all."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchone()
    return row is not None and row[0] == 0
