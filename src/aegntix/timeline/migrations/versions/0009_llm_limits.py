"""Model providers' limits shared across processes: concurrency slots with expiry and a rate
row per endpoint (``brains/shared_limits.py``; used on PostgreSQL, created on both).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "llm_slots",
        sa.Column("endpoint", sa.String(64), primary_key=True),
        sa.Column("slot", sa.Integer, primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_table(
        "llm_rates",
        sa.Column("endpoint", sa.String(64), primary_key=True),
        sa.Column("tat", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("llm_rates")
    op.drop_table("llm_slots")
