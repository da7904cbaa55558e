"""Face crops in the database: pending ones (waiting for consent) and shared ones, for every replica.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crops",
        sa.Column("prediction_id", sa.Integer, sa.ForeignKey("predictions.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("png", sa.LargeBinary, nullable=False),
        sa.Column("shared", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_crops_shared", "crops", ["shared"])
    op.create_index("ix_crops_created_at", "crops", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_crops_created_at", table_name="crops")
    op.drop_index("ix_crops_shared", table_name="crops")
    op.drop_table("crops")
