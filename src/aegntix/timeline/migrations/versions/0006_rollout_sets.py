"""Rollout sets: N branches forked from one point with derived seeds, and their members.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aegntix.timeline.schema import id_string

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollout_sets",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("id", id_string(), primary_key=True),
        sa.Column("scenario_id", sa.String(32), nullable=False),
        sa.Column("parent_id", sa.String(32), nullable=False),
        sa.Column("fork_step", sa.BigInteger, nullable=False),
        sa.Column("injection", sa.Text, nullable=True),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.Column("seed_base", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("control_id", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_rollout_sets_point",
        "rollout_sets",
        ["tenant_id", "parent_id", "fork_step", "seed_base"],
    )
    op.create_table(
        "rollout_members",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("set_id", sa.String(32), primary_key=True),
        sa.Column("idx", sa.BigInteger, primary_key=True),
        sa.Column("branch_id", sa.String(32), nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rollout_members")
    op.drop_index("ix_rollout_sets_point", "rollout_sets")
    op.drop_table("rollout_sets")
