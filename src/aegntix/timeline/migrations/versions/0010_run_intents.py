"""Run intents: what a user asked for each branch (run to a step or to the end, pause,
cancel), so pause, resume, step and cancel reach a run on any worker process.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_intents",
        sa.Column("branch_id", sa.String(32), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),  # the branch's
        sa.Column("want", sa.String(16), nullable=False),  # run | pause | cancel
        sa.Column("steps", sa.Integer, nullable=True),  # asked for (null: to the end)
        # the completed step to stop at, fixed by the first slice from ``steps``: absolute,
        # so a slice retried after a crash never runs a step twice or one too many
        sa.Column("until_step", sa.Integer, nullable=True),
        # one per start: a slice job of an older start finds another token and stops
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),  # seconds since the epoch
    )


def downgrade() -> None:
    op.drop_table("run_intents")
