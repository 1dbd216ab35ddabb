"""Initial timeline schema: scenarios, branches, events (append-only), snapshots.

Revision ID: 0001
Revises:
Create Date: 2025-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def _tenant() -> sa.Column[str]:
    return sa.Column("tenant_id", sa.String(64), nullable=False, server_default="default")


# Events are append-only (invariant 1); the database refuses changes, not only the code.
_SQLITE_TRIGGERS = (
    "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
    "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END",
    "CREATE TRIGGER events_no_delete BEFORE DELETE ON events "
    "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END",
)


def upgrade() -> None:
    op.create_table(
        "scenarios",
        sa.Column("id", sa.String(32), primary_key=True),
        _tenant(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("spec_hash", sa.String(64), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
    )
    op.create_table(
        "branches",
        sa.Column("id", sa.String(32), primary_key=True),
        _tenant(),
        sa.Column("scenario_id", sa.String(32), sa.ForeignKey("scenarios.id"), nullable=False),
        sa.Column("parent_id", sa.String(32), sa.ForeignKey("branches.id"), nullable=True),
        sa.Column("fork_seq", sa.BigInteger, nullable=False),
        sa.Column("fork_step", sa.BigInteger, nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("head_seq", sa.BigInteger, nullable=False),
        sa.Column("head_step", sa.BigInteger, nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("updated_at", _TZ, nullable=False),
    )
    op.create_index("ix_branches_scenario", "branches", ["scenario_id"])
    op.create_index("ix_branches_parent", "branches", ["parent_id"])
    op.create_table(
        "events",
        sa.Column("branch_id", sa.String(32), sa.ForeignKey("branches.id"), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        _tenant(),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
    )
    op.create_index("ix_events_branch_step", "events", ["branch_id", "step", "seq"])
    op.create_table(
        "snapshots",
        sa.Column("branch_id", sa.String(32), sa.ForeignKey("branches.id"), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        _tenant(),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
    )
    if op.get_bind().dialect.name == "sqlite":
        for ddl in _SQLITE_TRIGGERS:
            op.execute(ddl)
    # PostgreSQL: an equivalent BEFORE UPDATE OR DELETE trigger function comes with its backend.


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS events_no_delete")
        op.execute("DROP TRIGGER IF EXISTS events_no_update")
    op.drop_table("snapshots")
    op.drop_table("events")
    op.drop_table("branches")
    op.drop_table("scenarios")
