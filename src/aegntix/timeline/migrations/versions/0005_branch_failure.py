"""Branches remember why their last run failed.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column with no default: an O(1) ALTER on SQLite and PostgreSQL alike.
    op.add_column("branches", sa.Column("failure", sa.Text, nullable=True))


def downgrade() -> None:
    # batch: SQLite before 3.35 cannot DROP COLUMN; Alembic copies the table there
    with op.batch_alter_table("branches") as batch:
        batch.drop_column("failure")
