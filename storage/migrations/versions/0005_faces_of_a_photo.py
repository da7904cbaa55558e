"""One prediction row per face judged: rows of one photo share a photo id.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Older rows keep NULL here: each of them was one photo with one face judged.
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("photo_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("face_index", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("face_side", sa.Integer(), nullable=True))
        batch.create_index("ix_predictions_photo_id", ["photo_id"])


def downgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.drop_index("ix_predictions_photo_id")
        batch.drop_column("face_side")
        batch.drop_column("face_index")
        batch.drop_column("photo_id")
