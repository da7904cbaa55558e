"""Drift alerts are claimed in the database, so that of several replicas exactly one sends each.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("daily_summaries") as batch:
        batch.add_column(sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=True))
    # Days summarised before this revision were alerted (or not) by the replica that summarised them.
    op.execute("UPDATE daily_summaries SET alerted_at = computed_at")


def downgrade() -> None:
    with op.batch_alter_table("daily_summaries") as batch:
        batch.drop_column("alerted_at")
