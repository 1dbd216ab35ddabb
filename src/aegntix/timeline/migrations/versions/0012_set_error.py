"""A rollout set's error: why its last drive failed, read by every replica (a worker that
drives a set has no other way to tell the API why it stopped).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("rollout_sets", sa.Column("error", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rollout_sets") as batch:
        batch.drop_column("error")
