"""Persistent agents: profiles, their committed versions and memories, where they took part.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "agent_profiles",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("persona", sa.Text, nullable=False),
        sa.Column("traits", sa.Text, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("lived_steps", sa.BigInteger, nullable=False),
        _when("created_at"),
        _when("updated_at"),
        _when("deleted_at", nullable=True),
    )
    op.create_table(
        "profile_versions",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("profile_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.BigInteger, primary_key=True),
        sa.Column("traits", sa.Text, nullable=False),
        sa.Column("lived_steps", sa.BigInteger, nullable=False),
        sa.Column("scenario_id", sa.String(32), nullable=True),
        sa.Column("branch_id", sa.String(32), nullable=True),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("memories", sa.BigInteger, nullable=False),
        _when("created_at"),
    )
    op.create_index(
        "ix_profile_versions_scenario",
        "profile_versions",
        ["tenant_id", "profile_id", "scenario_id"],
    )
    op.create_table(
        "profile_memories",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("profile_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.BigInteger, primary_key=True),
        sa.Column("ord", sa.BigInteger, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("importance", sa.Float, nullable=False),
        sa.Column("time", sa.Float, nullable=False),
        sa.Column("scenario_id", sa.String(32), nullable=True),
        sa.Column("branch_id", sa.String(32), nullable=True),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("cites", sa.Text, nullable=False),
        _when("created_at"),
    )
    op.create_table(
        "profile_uses",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("profile_id", sa.String(64), primary_key=True),
        sa.Column("scenario_id", sa.String(32), primary_key=True),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        _when("created_at"),
    )


def downgrade() -> None:
    op.drop_table("profile_uses")
    op.drop_table("profile_memories")
    op.drop_index("ix_profile_versions_scenario", "profile_versions")
    op.drop_table("profile_versions")
    op.drop_table("agent_profiles")
