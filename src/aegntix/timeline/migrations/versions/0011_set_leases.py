"""Set leases: the API replica driving a rollout set holds a lease on it, so every replica
reads whether the set runs (and offers Continue once a dead driver's lease lapses).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "set_leases",
        sa.Column("set_id", sa.String(32), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),  # the set's
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),  # seconds since the epoch
    )


def downgrade() -> None:
    op.drop_table("set_leases")
