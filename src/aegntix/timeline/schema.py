"""Timeline tables (SQLAlchemy Core). The Alembic migrations create them; this module is the
in-code description the store queries against. Keep both in step (a test compares them)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    Text,
)

#: Every table carries a tenant id now, so multi-tenancy (DESIGN §6) needs no data migration.
DEFAULT_TENANT = "default"

metadata = MetaData()


def _tenant() -> Column[str]:
    # Server-side default only: no per-row Python work on the hot insert path.
    return Column("tenant_id", String(64), nullable=False, server_default=DEFAULT_TENANT)


scenarios = Table(
    "scenarios",
    metadata,
    Column("id", String(32), primary_key=True),
    _tenant(),
    Column("name", String(200), nullable=False),
    Column("spec", Text, nullable=False),  # canonical JSON
    Column("spec_hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

branches = Table(
    "branches",
    metadata,
    Column("id", String(32), primary_key=True),
    _tenant(),
    Column("scenario_id", String(32), ForeignKey("scenarios.id"), nullable=False),
    Column("parent_id", String(32), ForeignKey("branches.id"), nullable=True),
    Column("fork_seq", BigInteger, nullable=False),
    Column("fork_step", BigInteger, nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("label", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    # head_* caches the last logical event; updated in the transaction of every append.
    Column("head_seq", BigInteger, nullable=False),
    Column("head_step", BigInteger, nullable=False),
    Column("head_hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_branches_scenario", "scenario_id"),
    Index("ix_branches_parent", "parent_id"),
)

events = Table(
    "events",
    metadata,
    Column("branch_id", String(32), ForeignKey("branches.id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    _tenant(),
    Column("step", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("agent_id", String(64), nullable=True),
    Column("payload", Text, nullable=False),  # canonical JSON
    Column("hash", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_events_branch_step", "branch_id", "step", "seq"),
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("branch_id", String(32), ForeignKey("branches.id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    _tenant(),
    Column("step", BigInteger, nullable=False),
    Column("state", Text, nullable=False),  # JSON
    Column("created_at", DateTime(timezone=True), nullable=False),
)
