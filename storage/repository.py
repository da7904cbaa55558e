"""The API the bot writes and reads through: plain values in, plain values out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from typing import cast

from sqlalchemy import CursorResult, Result, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from storage.database import Database, as_utc
from storage.tables import (
    STORED_CLASSES,
    AlertClaim,
    CameraCount,
    Crop,
    DailySummary,
    Feedback,
    PredictionRow,
    UserSettings,
)

CHAT_TYPES = ("private", "group", "supergroup", "channel")
INPUT_KINDS = ("photo", "document", "video_note", "video", "animation", "video_document")
"""What a face was judged from: a photo or image file, or a clip's frame (bot.handlers.videos)."""


@dataclass(frozen=True)
class PredictionRecord:
    """What the bot knows about one answered photo, already free of personal data but the hash."""

    user_hash: str
    chat_type: str
    input_kind: str
    label: str
    confidence: float
    probabilities: Mapping[str, float]
    """By class name, every one of STORED_CLASSES."""
    unsure: bool
    model_version: str
    face_found: bool
    face_fraction: float | None
    brightness: float
    sharpness: float
    image_width: int
    image_height: int
    latency_ms: float
    created_at: datetime | None = None
    photo_id: str | None = None
    """Shared by the faces of one photo (see `record_predictions`)."""
    face_index: int | None = None
    face_side: int | None = None

    def __post_init__(self) -> None:
        if self.label not in STORED_CLASSES:
            raise ValueError(f"unknown label {self.label!r}")
        if self.chat_type not in CHAT_TYPES or self.input_kind not in INPUT_KINDS:
            raise ValueError(f"unknown chat type {self.chat_type!r} or input kind {self.input_kind!r}")
        if set(self.probabilities) != set(STORED_CLASSES):
            raise ValueError(f"one probability per class is needed, not {sorted(self.probabilities)}")


class FeedbackOutcome(Enum):
    """What became of a press of the feedback buttons."""

    STORED = "stored"
    NOT_YOURS = "not_yours"
    """Someone else's prediction, or one that was forgotten or purged."""
    ALREADY_ANSWERED = "already_answered"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    """A later "don't share" on an answer that shared its crop: the crop was deleted."""


@dataclass(frozen=True)
class OwnedFace:
    """One of a user's answered faces, as the feedback buttons need it."""

    prediction_id: int
    label: str
    """What the bot answered."""
    number: int
    """The face's number in the reply: 1 for a photo with one face."""
    faces: tuple[tuple[int, int], ...]
    """(number, prediction id) of every face of the same photo, this one included."""
    input_kind: str
    """What was sent: "photo", "document", or a clip's kind ("video_note", "video", ...)."""
    model_version: str
    """The model that answered."""
    face_share: float | None
    """The face's side over the photo's longest side; None when no face was boxed. "Why?" finds
    the same face again by its number and this (`model.explain.explain_again`)."""
    sides: tuple[int | None, ...] = ()
    """The side in pixels of every face in `faces`, in the same order (None for rows without one)."""

    def answered_face_by_face(self, main_face_ratio: float) -> bool:
        """Whether its photo got the group answer: several faces judged, and the first (the
        largest) less than `main_face_ratio` times every other, the serving rule's ratio
        (`model.predictor.MAIN_FACE_RATIO`). Else the answer was about the first face alone."""
        if len(self.faces) < 2:
            return False
        if None in self.sides or len(self.sides) != len(self.faces):
            return True
        largest, *others = (side or 0 for side in self.sides)
        return largest < main_face_ratio * max(others)


@dataclass(frozen=True)
class Deleted:
    """What one /forget or one retention purge deleted."""

    predictions: int
    feedback: int
    crops: int


@dataclass(frozen=True)
class FeedbackItem:
    """One piece of feedback as an operator reviews or exports it."""

    feedback_id: int
    prediction_id: int
    predicted_label: str
    corrected_label: str | None
    is_correct: bool
    confidence: float
    model_version: str
    created_at: datetime
    review_status: str
    crop: bytes | None
    """The shared face crop (PNG), or None."""

    @property
    def label(self) -> str:
        """The label the photo really has, by its user's word."""
        if self.is_correct or self.corrected_label is None:
            return self.predicted_label
        return self.corrected_label


REVIEW_STATUSES = ("pending", "accepted", "rejected")


def _shared_png():
    """The crop its user agreed to share with a feedback row, as a scalar subquery (or NULL)."""
    return select(Crop.png).where(Crop.prediction_id == Feedback.prediction_id, Crop.shared.is_(True)).scalar_subquery()


@dataclass(frozen=True)
class FeedbackFilter:
    """Which feedback to list, count or export; each field set narrows it."""

    status: str | None = None
    since: date | None = None
    with_crop: bool = False
    include_right: bool = True
    """False: only answers users marked wrong (corrections)."""
    label: str | None = None
    """The user's label (see `FeedbackItem.label`)."""
    model_version: str | None = None

    def where(self, query):
        """`query` (over Feedback joined with its PredictionRow) narrowed to this filter."""
        if self.status is not None:
            query = query.where(Feedback.review_status == self.status)
        if self.since is not None:
            query = query.where(Feedback.created_at >= day_bounds(self.since)[0])
        if self.with_crop:
            query = query.where(_shared_png().is_not(None))
        if not self.include_right:
            query = query.where(Feedback.is_correct.is_(False))
        if self.label is not None:
            # corrected_label is empty when the user said "right": then the bot's label is theirs.
            query = query.where(func.coalesce(Feedback.corrected_label, PredictionRow.label) == self.label)
        if self.model_version is not None:
            query = query.where(PredictionRow.model_version == self.model_version)
        return query


_INSERT_PREDICTION = insert(PredictionRow).returning(PredictionRow.id)
_INSERT_CROP = insert(Crop)
_users_pending = (
    select(Crop.prediction_id)
    .join(PredictionRow, PredictionRow.id == Crop.prediction_id)
    .where(PredictionRow.user_hash == bindparam("user_hash"), Crop.shared.is_(False))
)
_DROP_OLDEST_PENDING = delete(Crop).where(
    Crop.prediction_id.in_(
        _users_pending.order_by(Crop.prediction_id.desc()).offset(bindparam("keep")).scalar_subquery()
    )
)
CROP_HOLD = timedelta(hours=1)
"""How long a face crop waits for its user's consent before it is deleted unseen."""
PENDING_CROPS_PER_USER = 20
"""At most this many of one user's crops wait for consent; a newer photo pushes out the oldest.
People rate their latest answers, and a flood of photos cannot fill the database with crops."""


def _row_values(record: PredictionRecord, now: datetime) -> dict:
    return {
        "created_at": record.created_at or now,
        "user_hash": record.user_hash,
        "chat_type": record.chat_type,
        "input_kind": record.input_kind,
        "label": record.label,
        "confidence": float(record.confidence),
        **{f"p_{name}": float(record.probabilities[name]) for name in STORED_CLASSES},
        "unsure": bool(record.unsure),
        "model_version": record.model_version,
        "face_found": bool(record.face_found),
        "face_fraction": None if record.face_fraction is None else float(record.face_fraction),
        "brightness": float(record.brightness),
        "sharpness": float(record.sharpness),
        "image_width": int(record.image_width),
        "image_height": int(record.image_height),
        "latency_ms": float(record.latency_ms),
        "photo_id": record.photo_id,
        "face_index": record.face_index,
        "face_side": record.face_side,
    }


def _rowcount(result: Result) -> int:
    """Rows a DELETE or UPDATE touched (a CursorResult's count; typed on the generic Result)."""
    return cast(CursorResult, result).rowcount


def utc_now() -> datetime:
    return datetime.now(UTC)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


class Repository:
    """Records predictions and feedback, forgets users, purges old rows.

    Face crops live in the `crops` table beside their predictions: pending for at most CROP_HOLD
    while their user decides, kept only when they agree to share them. (The stats are
    `storage.stats`.)
    """

    def __init__(self, database: Database) -> None:
        self.database = database

    def record_prediction(self, record: PredictionRecord, crop_png: bytes | None = None) -> int:
        """Log one prediction; with `crop_png`, its face crop waits beside it, in the same
        transaction, for the user's consent (at most CROP_HOLD)."""
        return self.record_predictions([record], [crop_png])[0]

    def record_predictions(self, records: Sequence[PredictionRecord], crops: Sequence[bytes | None]) -> list[int]:
        """Log the faces of one photo (a row each) in one transaction, each crop beside its row;
        returns the rows' ids in order."""
        ids = []
        now = utc_now()  # one moment for every face of the photo: its rows never straddle midnight
        # One prepared Core INSERT with parameters: the ORM's unit of work, or .values() with
        # literals that defeat the compiled-statement cache, cost over half the throughput.
        with self.database.engine.begin() as connection:
            for record, crop_png in zip(records, crops, strict=True):
                values = _row_values(record, now)
                prediction_id = connection.execute(_INSERT_PREDICTION, values).scalar_one()
                ids.append(prediction_id)
                if crop_png is not None:
                    crop = {"prediction_id": prediction_id, "png": crop_png, "shared": False}
                    connection.execute(_INSERT_CROP, {**crop, "created_at": values["created_at"]})
            for user_hash in {r.user_hash for r, png in zip(records, crops, strict=True) if png is not None}:
                connection.execute(_DROP_OLDEST_PENDING, {"user_hash": user_hash, "keep": PENDING_CROPS_PER_USER})
        return ids

    def record_feedback(
        self,
        prediction_id: int,
        user_hash: str,
        is_correct: bool,
        corrected_label: str | None = None,
        share_crop: bool = False,
        now: datetime | None = None,
    ) -> FeedbackOutcome:
        """Store a user's verdict on their own prediction, once; the waiting crop is kept when
        they agree to share it (and it has not expired) and deleted when they do not.

        An answer, once given, does not change: an operator may already have reviewed it, and a
        replayed button must not relabel an accepted correction. The one change allowed is
        withdrawing consent: a later "don't share" deletes the stored crop."""
        if corrected_label is not None and corrected_label not in STORED_CLASSES:
            raise ValueError(f"unknown label {corrected_label!r}")
        now = now or utc_now()
        try:
            with self.database.session() as session:
                prediction = session.get(PredictionRow, prediction_id)
                if prediction is None or prediction.user_hash != user_hash:
                    return FeedbackOutcome.NOT_YOURS
                crop = session.get(Crop, prediction_id)
                if prediction.feedback is not None:
                    if share_crop or crop is None:
                        return FeedbackOutcome.ALREADY_ANSWERED
                    session.delete(crop)
                    return FeedbackOutcome.CONSENT_WITHDRAWN
                session.add(
                    Feedback(
                        prediction_id=prediction_id,
                        user_hash=user_hash,
                        is_correct=is_correct,
                        corrected_label=None if is_correct else corrected_label,
                        created_at=now,
                    )
                )
                if crop is not None:
                    if share_crop and not crop.shared and as_utc(crop.created_at) >= now - CROP_HOLD:
                        crop.shared = True
                    else:
                        session.delete(crop)
        except IntegrityError:
            # Another replica stored this answer between this one's read and its write (the same
            # press reaching both): whichever came first stands, and the same answer is a success.
            return self._answered_alike(prediction_id, user_hash, is_correct, corrected_label, share_crop)
        return FeedbackOutcome.STORED

    def _answered_alike(
        self, prediction_id: int, user_hash: str, is_correct: bool, corrected_label: str | None, share_crop: bool
    ) -> FeedbackOutcome:
        """STORED when the feedback stored for this prediction is this very answer, else
        ALREADY_ANSWERED."""
        with self.database.session() as session:
            stored = session.execute(
                select(Feedback.user_hash, Feedback.is_correct, Feedback.corrected_label, Crop.shared)
                .outerjoin(Crop, Crop.prediction_id == Feedback.prediction_id)
                .where(Feedback.prediction_id == prediction_id)
            ).one_or_none()
        if stored is None:
            return FeedbackOutcome.ALREADY_ANSWERED
        owner, right, label, shared = stored
        alike = (owner, right, label) == (user_hash, is_correct, None if is_correct else corrected_label)
        # Sharing finds the crop shared, or expired; not sharing must not find it shared.
        return FeedbackOutcome.STORED if alike and (share_crop or not shared) else FeedbackOutcome.ALREADY_ANSWERED

    def expire_pending_crops(self, now: datetime | None = None) -> int:
        """Delete the crops nobody agreed to share within CROP_HOLD; returns how many."""
        cutoff = (now or utc_now()) - CROP_HOLD
        with self.database.session() as session:
            return _rowcount(session.execute(delete(Crop).where(Crop.shared.is_(False), Crop.created_at < cutoff)))

    def prediction_exists(self, prediction_id: int) -> bool:
        with self.database.session() as session:
            return session.scalar(select(PredictionRow.id).where(PredictionRow.id == prediction_id)) is not None

    def owned_face(self, prediction_id: int, user_hash: str) -> OwnedFace | None:
        """What the bot answered for this prediction and the faces of its photo, when the
        prediction exists and belongs to this pseudonym; else None."""
        with self.database.session() as session:
            row = session.execute(
                select(
                    PredictionRow.label,
                    PredictionRow.photo_id,
                    PredictionRow.face_index,
                    PredictionRow.input_kind,
                    PredictionRow.model_version,
                    PredictionRow.face_side,
                    PredictionRow.image_width,
                    PredictionRow.image_height,
                ).where(PredictionRow.id == prediction_id, PredictionRow.user_hash == user_hash)
            ).one_or_none()
            if row is None:
                return None
            label, photo_id, face_index, input_kind, model_version, face_side, width, height = row
            siblings: list[tuple[int, int]] = []
            sides: list[int | None] = []
            if photo_id is not None:
                for sibling, number, side in session.execute(
                    select(PredictionRow.id, PredictionRow.face_index, PredictionRow.face_side)
                    .where(PredictionRow.photo_id == photo_id, PredictionRow.user_hash == user_hash)
                    .order_by(PredictionRow.face_index)
                ):
                    siblings.append((int(number or 0), int(sibling)))
                    sides.append(None if side is None else int(side))
        number = face_index or 1
        longest = max(width, height)
        return OwnedFace(
            prediction_id,
            label,
            number,
            tuple(siblings) or ((number, prediction_id),),
            input_kind,
            model_version,
            face_side / longest if face_side is not None and longest > 0 else None,
            tuple(sides) if siblings else (face_side,),
        )

    def feedback_items(
        self, which: FeedbackFilter | None = None, limit: int | None = None, offset: int = 0
    ) -> list[FeedbackItem]:
        """Feedback oldest first, with its shared crop. The console and `maskbot feedback review`
        both list through here."""
        query = (which or FeedbackFilter()).where(select(Feedback, PredictionRow).join(PredictionRow))
        query = query.add_columns(_shared_png()).order_by(Feedback.id).offset(offset).limit(limit)
        with self.database.session() as session:
            rows = session.execute(query).all()
        return [
            FeedbackItem(
                f.id,
                p.id,
                p.label,
                f.corrected_label,
                f.is_correct,
                p.confidence,
                p.model_version,
                f.created_at,
                f.review_status,
                png,
            )
            for f, p, png in rows
        ]

    def count_feedback(self, which: FeedbackFilter | None = None) -> int:
        """How many items `feedback_items` lists with the same filter and no limit."""
        query = (which or FeedbackFilter()).where(select(Feedback.id).join(PredictionRow))
        with self.database.session() as session:
            return session.scalar(select(func.count()).select_from(query.subquery())) or 0

    def feedback_model_versions(self) -> list[str]:
        """The model versions that answered the photos users gave feedback on, for filters."""
        query = select(PredictionRow.model_version).join(Feedback).distinct()
        with self.database.session() as session:
            return sorted(session.scalars(query), key=lambda name: (len(name), name))

    def shared_crop(self, feedback_id: int) -> bytes | None:
        """The face crop its user agreed to share with this feedback; None when there is none, or
        no longer: a forgotten or purged user's crops are deleted with their feedback."""
        with self.database.session() as session:
            return session.scalar(select(_shared_png()).where(Feedback.id == feedback_id))

    def review(self, feedback_ids: Sequence[int], status: str) -> int:
        """Mark feedback accepted or rejected (or back to pending); returns how many rows changed."""
        if status not in REVIEW_STATUSES:
            raise ValueError(f"unknown review status {status!r}")
        with self.database.session() as session:
            rows = session.scalars(select(Feedback).where(Feedback.id.in_(list(feedback_ids)))).all()
            for row in rows:
                row.review_status = status
                row.reviewed_at = utc_now()
            return len(rows)

    def language_of(self, user_hash: str) -> str | None:
        """The language this pseudonym chose with /language, or None."""
        with self.database.session() as session:
            return session.scalar(select(UserSettings.language).where(UserSettings.user_hash == user_hash))

    def set_language(self, user_hash: str, language: str) -> None:
        with self.database.session() as session:
            settings = session.get(UserSettings, user_hash)
            if settings is None:
                session.add(UserSettings(user_hash=user_hash, language=language, updated_at=utc_now()))
            else:
                settings.language, settings.updated_at = language, utc_now()

    def forget_user(self, user_hash: str) -> Deleted:
        """Delete every prediction, feedback row and crop (waiting or shared) of one pseudonym,
        and what they chose."""
        with self.database.session() as session:
            session.execute(delete(UserSettings).where(UserSettings.user_hash == user_hash))
        mine = select(PredictionRow.id).where(PredictionRow.user_hash == user_hash)
        return self._delete_predictions(mine, Feedback.user_hash == user_hash, PredictionRow.user_hash == user_hash)

    def purge_older_than(self, days: int, now: datetime | None = None) -> Deleted:
        """Retention: delete predictions (with their feedback and crops) older than `days` days,
        then the language choices older than that of users with no rows left: /privacy promises
        everything goes, and someone still using the bot keeps the language they chose."""
        cutoff = (now or utc_now()) - timedelta(days=days)
        old = select(PredictionRow.id).where(PredictionRow.created_at < cutoff)
        deleted = self._delete_predictions(old, Feedback.prediction_id.in_(old), PredictionRow.created_at < cutoff)
        with self.database.session() as session:
            session.execute(
                delete(UserSettings).where(
                    UserSettings.updated_at < cutoff, UserSettings.user_hash.not_in(select(PredictionRow.user_hash))
                )
            )
            # Camera counts are nobody's, but kept no longer than the predictions they sit beside;
            # an alert's claim matters only within its window, the longest a day.
            session.execute(delete(CameraCount).where(CameraCount.minute < cutoff))
            session.execute(delete(AlertClaim).where(AlertClaim.claimed_at < cutoff))
        return deleted

    def _delete_predictions(self, ids, feedback_rows, prediction_rows) -> Deleted:
        """Crops, feedback and predictions in one transaction."""
        with self.database.session() as session:
            shared = session.scalar(select(func.count()).where(Crop.prediction_id.in_(ids), Crop.shared.is_(True)))
            session.execute(delete(Crop).where(Crop.prediction_id.in_(ids)))
            feedback = _rowcount(session.execute(delete(Feedback).where(feedback_rows)))
            predictions = _rowcount(session.execute(delete(PredictionRow).where(prediction_rows)))
        return Deleted(predictions=predictions, feedback=feedback, crops=shared or 0)

    def claim_drift_alerts(self, since: date) -> set[tuple[date, str]]:
        """(day, model version) of every watch or drift day since `since` whose alert nobody has
        claimed yet, now claimed by this caller. One UPDATE: of several replicas running the daily
        job at once, each day goes to exactly one."""
        claim = (
            update(DailySummary)
            .where(
                DailySummary.day >= since,
                DailySummary.alerted_at.is_(None),
                DailySummary.drift_level.in_(("watch", "drift")),
            )
            .values(alerted_at=utc_now())
            .returning(DailySummary.day, DailySummary.model_version)
        )
        with self.database.session() as session:
            return {(day, version) for day, version in session.execute(claim)}
