"""Predictions, feedback and daily summaries.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "predictions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_hash", sa.String(64), nullable=False),
        sa.Column("chat_type", sa.String(16), nullable=False),
        sa.Column("input_kind", sa.String(16), nullable=False),
        sa.Column("label", sa.String(32), nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("p_with_mask", sa.Float, nullable=False),
        sa.Column("p_without_mask", sa.Float, nullable=False),
        sa.Column("p_mask_weared_incorrect", sa.Float, nullable=False),
        sa.Column("unsure", sa.Boolean, nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("face_found", sa.Boolean, nullable=False),
        sa.Column("face_fraction", sa.Float, nullable=True),
        sa.Column("brightness", sa.Float, nullable=False),
        sa.Column("sharpness", sa.Float, nullable=False),
        sa.Column("image_width", sa.Integer, nullable=False),
        sa.Column("image_height", sa.Integer, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
    )
    op.create_index("ix_predictions_created_at", "predictions", ["created_at"])
    op.create_index("ix_predictions_user_hash", "predictions", ["user_hash"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "prediction_id",
            sa.Integer,
            sa.ForeignKey("predictions.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("user_hash", sa.String(64), nullable=False),
        sa.Column("is_correct", sa.Boolean, nullable=False),
        sa.Column("corrected_label", sa.String(32), nullable=True),
        sa.Column("crop_path", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_feedback_user_hash", "feedback", ["user_hash"])
    op.create_index("ix_feedback_created_at", "feedback", ["created_at"])
    op.create_table(
        "daily_summaries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("count_with_mask", sa.Integer, nullable=False),
        sa.Column("count_without_mask", sa.Integer, nullable=False),
        sa.Column("count_mask_weared_incorrect", sa.Integer, nullable=False),
        sa.Column("share_with_mask", sa.Float, nullable=False),
        sa.Column("share_without_mask", sa.Float, nullable=False),
        sa.Column("share_mask_weared_incorrect", sa.Float, nullable=False),
        sa.Column("unsure_share", sa.Float, nullable=False),
        sa.Column("mean_confidence", sa.Float, nullable=False),
        sa.Column("feedback_count", sa.Integer, nullable=False),
        sa.Column("disagreement_rate", sa.Float, nullable=True),
        sa.Column("reference", sa.String(16), nullable=False),
        sa.Column("psi", sa.Float, nullable=True),
        sa.Column("js_distance", sa.Float, nullable=True),
        sa.Column("chi2_p_value", sa.Float, nullable=True),
        sa.Column("drift_level", sa.String(8), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("day", "model_version", name="uq_daily_summaries_day_model"),
    )
    op.create_index("ix_daily_summaries_day", "daily_summaries", ["day"])


def downgrade() -> None:
    op.drop_table("daily_summaries")
    op.drop_table("feedback")
    op.drop_table("predictions")
