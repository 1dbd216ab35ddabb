"""Spec versions: each scenario records the schema version its spec was written for, so
old specs are upgraded before they are validated (``model/stored.py``). Rows stored
before this revision are version 1.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite rebuilds the table; PostgreSQL adds the column in place.
    with op.batch_alter_table("scenarios") as batch:
        batch.add_column(sa.Column("spec_version", sa.Integer, nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("scenarios") as batch:
        batch.drop_column("spec_version")
