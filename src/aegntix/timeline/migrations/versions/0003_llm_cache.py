"""LLM response cache (also the ledger of paid provider calls).

Revision ID: 0003
Revises: 0002
Create Date: 2025-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "llm_cache",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("reply", sa.Text, nullable=False),
        sa.Column("tokens_in", sa.BigInteger, nullable=False),
        sa.Column("tokens_out", sa.BigInteger, nullable=False),
        sa.Column("cost", sa.Float, nullable=False),
        sa.Column("scenario_id", sa.String(32), nullable=True),
        sa.Column("branch_id", sa.String(32), nullable=True),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_llm_cache_branch", "llm_cache", ["branch_id"])
    op.create_index("ix_llm_cache_scenario", "llm_cache", ["scenario_id"])


def downgrade() -> None:
    op.drop_index("ix_llm_cache_scenario", "llm_cache")
    op.drop_index("ix_llm_cache_branch", "llm_cache")
    op.drop_table("llm_cache")
