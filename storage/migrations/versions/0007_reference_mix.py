"""The reference class mix each daily summary was compared with, so that it can be shown beside it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CLASS_NAMES = ("with_mask", "without_mask", "mask_weared_incorrect")


def upgrade() -> None:
    # Summaries computed before this revision keep NULL: their reference is named, not stored.
    with op.batch_alter_table("daily_summaries") as batch:
        for name in CLASS_NAMES:
            batch.add_column(sa.Column(f"reference_share_{name}", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("daily_summaries") as batch:
        for name in CLASS_NAMES:
            batch.drop_column(f"reference_share_{name}")
