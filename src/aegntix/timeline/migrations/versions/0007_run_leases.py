"""Run leases: which process runs a branch, until when (a dead owner's lease expires).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_leases",
        sa.Column("branch_id", sa.String(32), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),  # the branch's
        sa.Column("owner", sa.String(64), nullable=False),
        # seconds since the epoch (UTC): compared with the taker's clock, no time zones
        sa.Column("expires_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("run_leases")
