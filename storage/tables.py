"""The SQL schema as SQLAlchemy 2 typed models. Alembic migrations in `migrations/` create it."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, Float, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class PredictionRow(Base):
    """One answered photo. No image bytes, no Telegram id: `user_hash` is an HMAC of the id."""

    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    user_hash: Mapped[str] = mapped_column(String(64), index=True)
    chat_type: Mapped[str] = mapped_column(String(16))
    input_kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(32))
    confidence: Mapped[float] = mapped_column(Float)
    p_with_mask: Mapped[float] = mapped_column(Float)
    p_without_mask: Mapped[float] = mapped_column(Float)
    p_mask_weared_incorrect: Mapped[float] = mapped_column(Float)
    unsure: Mapped[bool] = mapped_column(Boolean)
    model_version: Mapped[str] = mapped_column(String(32))
    face_found: Mapped[bool] = mapped_column(Boolean)
    face_fraction: Mapped[float | None] = mapped_column(Float, nullable=True)
    brightness: Mapped[float] = mapped_column(Float)
    sharpness: Mapped[float] = mapped_column(Float)
    image_width: Mapped[int] = mapped_column(Integer)
    image_height: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    photo_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    """Random, shared by the rows of one photo's faces; NULL on rows older than group photos."""
    face_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """The face's number in the reply (1 = the largest)."""
    face_side: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """The face box's short side in the photo's pixels."""

    feedback: Mapped[Feedback | None] = relationship(
        back_populates="prediction", cascade="all, delete-orphan", passive_deletes=True
    )


STORED_CLASSES = tuple(
    column.key.removeprefix("p_") for column in PredictionRow.__table__.columns if column.key.startswith("p_")
)
"""The classes the schema has columns for (a prediction's `p_<class>`, a summary's `count_<class>`,
`share_<class>` and `reference_share_<class>`), in their order. The classes themselves are
`model.CLASS_NAMES`, which storage may not import: a class the model gains needs a migration, and
tests/test_storage.py fails until it has one."""


class Crop(Base):
    """The 128x128 face crop of one prediction, in the database every replica shares: pending
    (`shared` false) for at most an hour while its user decides, kept only when they agree."""

    __tablename__ = "crops"

    prediction_id: Mapped[int] = mapped_column(ForeignKey("predictions.id", ondelete="CASCADE"), primary_key=True)
    png: Mapped[bytes] = mapped_column(LargeBinary)
    shared: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Feedback(Base):
    """A user's "right" or "wrong" on one prediction; the crop only when the user agreed to share it."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prediction_id: Mapped[int] = mapped_column(ForeignKey("predictions.id", ondelete="CASCADE"), unique=True)
    user_hash: Mapped[str] = mapped_column(String(64), index=True)
    is_correct: Mapped[bool] = mapped_column(Boolean)
    corrected_label: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    review_status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending", index=True)
    """pending, accepted or rejected: only accepted feedback is exported for retraining."""
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    prediction: Mapped[PredictionRow] = relationship(back_populates="feedback")


class DailySummary(Base):
    """One UTC day of one model version: the class mix and how far it drifted from the reference."""

    __tablename__ = "daily_summaries"
    __table_args__ = (UniqueConstraint("day", "model_version", name="uq_daily_summaries_day_model"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    model_version: Mapped[str] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(Integer)
    count_with_mask: Mapped[int] = mapped_column(Integer)
    count_without_mask: Mapped[int] = mapped_column(Integer)
    count_mask_weared_incorrect: Mapped[int] = mapped_column(Integer)
    share_with_mask: Mapped[float] = mapped_column(Float)
    share_without_mask: Mapped[float] = mapped_column(Float)
    share_mask_weared_incorrect: Mapped[float] = mapped_column(Float)
    unsure_share: Mapped[float] = mapped_column(Float)
    mean_confidence: Mapped[float] = mapped_column(Float)
    feedback_count: Mapped[int] = mapped_column(Integer)
    disagreement_rate: Mapped[float | None] = mapped_column(Float, nullable=True)
    reference: Mapped[str] = mapped_column(String(16))
    """What the day was compared with: "trailing" (the days before), "model" (its training mix) or "none"."""
    reference_share_with_mask: Mapped[float | None] = mapped_column(Float, nullable=True)
    reference_share_without_mask: Mapped[float | None] = mapped_column(Float, nullable=True)
    reference_share_mask_weared_incorrect: Mapped[float | None] = mapped_column(Float, nullable=True)
    """The reference mix itself; NULL for "none" and for days summarised before it was kept."""
    psi: Mapped[float | None] = mapped_column(Float, nullable=True)
    js_distance: Mapped[float | None] = mapped_column(Float, nullable=True)
    chi2_p_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    drift_level: Mapped[str] = mapped_column(String(8))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    alerted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """When a replica claimed this day's drift alert: the admins are told once, whoever runs the job."""


class UserSettings(Base):
    """What a user chose (the language of the answers), against their pseudonym; /forget deletes it."""

    __tablename__ = "user_settings"

    user_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[str] = mapped_column(String(8))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CameraCount(Base):
    """People a camera watcher counted in one minute, by verdict (`maskbot watch`). Only counts:
    no face, crop, box or track is stored."""

    __tablename__ = "camera_counts"

    camera: Mapped[str] = mapped_column(String(64), primary_key=True)
    minute: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True, index=True)
    """The UTC minute a person was counted in: when they left the picture."""
    label: Mapped[str] = mapped_column(String(32), primary_key=True)
    people: Mapped[int] = mapped_column(Integer)


class Camera(Base):
    """A running watcher: its name, where the console reaches its live view, and when it last said so."""

    __tablename__ = "cameras"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream_url: Mapped[str | None] = mapped_column(String(256), nullable=True)
    """None for a watcher that serves no live view."""
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AlertClaim(Base):
    """One alert sent, by a key naming what it is about ("camera door 2026-12-06T10:00"): of
    several processes that see the same thing at once, the one whose INSERT succeeds sends it."""

    __tablename__ = "alert_claims"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
