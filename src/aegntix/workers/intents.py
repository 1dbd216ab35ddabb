"""Run intents: what the user asked for each branch, in the database (table ``run_intents``).

A start writes ``run`` with a fresh token and the steps asked for, which the first slice
turns into the step to stop at (absolute, so a slice retried after a crash never runs a step
twice or one too many); pause and cancel change
``want``; the slice job reads the row between steps and stops when it no longer says ``run``
for its token. The row goes when the run settles (done, paused, until_step reached, failed).
Any process can write any of these: API replicas and workers share only the database.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, delete, select, update

from aegntix.errors import BranchBusy, BranchNotFound
from aegntix.timeline.inserts import insert_new
from aegntix.timeline.schema import branches, run_intents
from aegntix.timeline.sqlstore import SqlStore


class Want(StrEnum):
    RUN = "run"
    PAUSE = "pause"  # after the step in progress
    CANCEL = "cancel"  # at once: the job is aborted too


@dataclass(frozen=True, slots=True)
class Intent:
    branch_id: str
    tenant_id: str
    want: Want
    steps: int | None
    until_step: int | None
    token: str
    updated_at: float


def _row(m: object) -> Intent:
    r = m._mapping  # type: ignore[attr-defined]
    return Intent(
        r["branch_id"],
        r["tenant_id"],
        Want(r["want"]),
        r["steps"],
        r["until_step"],
        r["token"],
        float(r["updated_at"]),
    )


def begin(conn: Connection, branch_id: str, steps: int | None) -> Intent:
    """Record a start (``BranchBusy`` if a run is already wanted); its new intent."""
    tenant_id = conn.execute(
        select(branches.c.tenant_id).where(branches.c.id == branch_id)
    ).scalar()
    if tenant_id is None:
        raise BranchNotFound(f"no branch '{branch_id}'")
    now, token = time.time(), secrets.token_hex(8)
    values = {
        "want": Want.RUN.value,
        "steps": steps,
        "until_step": None,
        "token": token,
        "updated_at": now,
    }
    # a settled-but-not-yet-removed pause or cancel is replaced; a wanted run is not
    replaced = conn.execute(
        update(run_intents)
        .where(run_intents.c.branch_id == branch_id, run_intents.c.want != Want.RUN.value)
        .values(**values)
    ).rowcount
    if not replaced and not insert_new(
        conn, run_intents, {"branch_id": branch_id, "tenant_id": tenant_id, **values}
    ):
        raise BranchBusy(f"branch '{branch_id}' is already running; pause it first")
    return Intent(branch_id, tenant_id, Want.RUN, steps, None, token, now)


def fix_until(conn: Connection, intent: Intent, completed_step: int) -> Intent:
    """The first slice of a "run N steps" turns N into the step to stop at (once: a retried
    slice finds it fixed). The intent as it now stands."""
    if intent.steps is not None and intent.until_step is None:
        conn.execute(
            update(run_intents)
            .where(
                run_intents.c.branch_id == intent.branch_id,
                run_intents.c.token == intent.token,
                run_intents.c.until_step.is_(None),
            )
            .values(until_step=completed_step + intent.steps)
        )
    return read(conn, intent.branch_id) or intent


def ask(conn: Connection, branch_id: str, want: Want) -> Intent | None:
    """Ask a wanted run to pause or cancel; the intent it changed (None: nothing runs)."""
    conn.execute(
        update(run_intents)
        .where(run_intents.c.branch_id == branch_id, run_intents.c.want == Want.RUN.value)
        .values(want=want.value, updated_at=time.time())
    )
    row = conn.execute(select(run_intents).where(run_intents.c.branch_id == branch_id)).first()
    return None if row is None or row.want != want.value else _row(row)


def settle(conn: Connection, branch_id: str, token: str) -> None:
    """The run of ``token`` is over: remove its intent (a newer start's is left alone)."""
    conn.execute(
        delete(run_intents).where(
            run_intents.c.branch_id == branch_id, run_intents.c.token == token
        )
    )


def read(conn: Connection, branch_id: str) -> Intent | None:
    row = conn.execute(select(run_intents).where(run_intents.c.branch_id == branch_id)).first()
    return None if row is None else _row(row)


class RunIntents:
    """The intents of one store (blocking: call from a thread in async code)."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def begin(self, branch_id: str, steps: int | None) -> Intent:
        return self.store.write(lambda c: begin(c, branch_id, steps))

    def fix_until(self, intent: Intent, completed_step: int) -> Intent:
        return self.store.write(lambda c: fix_until(c, intent, completed_step))

    def ask(self, branch_id: str, want: Want) -> Intent | None:
        return self.store.write(lambda c: ask(c, branch_id, want))

    def settle(self, branch_id: str, token: str) -> None:
        self.store.write(lambda c: settle(c, branch_id, token))

    def read(self, branch_id: str) -> Intent | None:
        with self.store.reading() as conn:
            return read(conn, branch_id)

    def pending(self, branch_ids: list[str]) -> set[str]:
        """Which of ``branch_ids`` still have a run intent (their run has not settled)."""
        if not branch_ids:
            return set()
        query = select(run_intents.c.branch_id).where(run_intents.c.branch_id.in_(branch_ids))
        with self.store.reading() as conn:
            return set(conn.execute(query).scalars())
