"""Camera watchers: people counted per minute by verdict, the running cameras, and alert claims.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "camera_counts",
        sa.Column("camera", sa.String(64), primary_key=True),
        sa.Column("minute", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("label", sa.String(32), primary_key=True),
        sa.Column("people", sa.Integer(), nullable=False),
    )
    op.create_index("ix_camera_counts_minute", "camera_counts", ["minute"])
    op.create_table(
        "cameras",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("stream_url", sa.String(256), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "alert_claims",
        sa.Column("key", sa.String(160), primary_key=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_alert_claims_claimed_at", "alert_claims", ["claimed_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_claims_claimed_at", "alert_claims")
    op.drop_table("alert_claims")
    op.drop_table("cameras")
    op.drop_index("ix_camera_counts_minute", "camera_counts")
    op.drop_table("camera_counts")
