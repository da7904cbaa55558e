"""What the bot writes to and reads from its database (answers, feedback, stats, summaries,
retention), each on the database's threads, never behind inference."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import date

from bot.lanes import Lanes
from model.predictor import PhotoPrediction
from storage import summaries
from storage.pseudonyms import Pseudonymizer
from storage.repository import (
    CHAT_TYPES,
    Deleted,
    FeedbackOutcome,
    OwnedFace,
    PredictionRecord,
    Repository,
)
from storage.stats import Stats, recent_stats

log = logging.getLogger(__name__)


class Records:
    """A `user_id` here is whoever the bot tells apart (`bot.handlers.common.sender_id`); only its
    pseudonym is stored."""

    def __init__(self, repository: Repository, pseudonymize: Pseudonymizer, lanes: Lanes) -> None:
        self.repository = repository
        self.pseudonymize = pseudonymize
        self.lanes = lanes

    async def record_answer(
        self, photo: PhotoPrediction, crops: list[bytes], user_id: int, chat_type: str, input_kind: str
    ) -> tuple[int, ...] | None:
        """A row per judged face of one photo or clip, with its crop (PNG), waiting for consent:
        their ids, in the faces' order; None when the database could not record them (logged):
        the user still gets the verdicts."""
        user_hash = self.pseudonymize(user_id)
        photo_id = uuid.uuid4().hex
        records = [
            PredictionRecord(
                user_hash=user_hash,
                chat_type=chat_type if chat_type in CHAT_TYPES else "private",
                input_kind=input_kind,
                label=prediction.label,
                confidence=prediction.confidence,
                probabilities=prediction.probabilities,
                unsure=prediction.unsure,
                model_version=prediction.model_version,
                face_found=prediction.framing.face_found,
                face_fraction=prediction.framing.face_fraction,
                brightness=prediction.framing.brightness,
                sharpness=prediction.framing.sharpness,
                image_width=prediction.framing.width,
                image_height=prediction.framing.height,
                latency_ms=prediction.latency_ms,
                photo_id=photo_id,
                face_index=number,
                face_side=None if prediction.face is None else prediction.face.side,
            )
            for number, prediction in enumerate(photo.faces, start=1)
        ]
        try:
            # The crops wait in the database every replica shares, written with their rows.
            ids = await self.lanes.in_database(self.repository.record_predictions, records, crops)
        except Exception:
            log.exception("event=database_error action=record_prediction")
            return None
        return tuple(ids)

    async def feedback(
        self,
        prediction_id: int,
        user_id: int,
        is_correct: bool,
        corrected_label: str | None = None,
        share_crop: bool = False,
    ) -> FeedbackOutcome:
        """Record a user's verdict on their own prediction; the crop is kept only with consent."""
        return await self.lanes.in_database(
            self.repository.record_feedback,
            prediction_id,
            self.pseudonymize(user_id),
            is_correct,
            corrected_label,
            share_crop,
        )

    async def answer_exists(self, prediction_id: int) -> bool:
        """Whether this prediction's row is still kept (not deleted by /forget or retention)."""
        return await self.lanes.in_database(self.repository.prediction_exists, prediction_id)

    async def owned_face(self, prediction_id: int, user_id: int) -> OwnedFace | None:
        """What the bot answered for this face and the faces of its photo, if it is this user's."""
        return await self.lanes.in_database(self.repository.owned_face, prediction_id, self.pseudonymize(user_id))

    async def stats(self, days: int) -> Stats:
        """The last `days` UTC days, today included."""
        return await self.lanes.in_database(recent_stats, self.repository.database, days)

    async def summarise_days(self, reference: Mapping[str, float] | None) -> list[date]:
        """Summarise every finished day not yet summarised, against `reference`, the class mix
        the answering model was trained on (`AnsweringModel.class_mix`)."""
        return await self.lanes.in_database(lambda: summaries.catch_up(self.repository.database, reference=reference))

    async def claim_drift_alerts(self, since: date) -> set[tuple[date, str]]:
        return await self.lanes.in_database(self.repository.claim_drift_alerts, since)

    async def purge(self, retention_days: int) -> Deleted:
        return await self.lanes.in_database(self.repository.purge_older_than, retention_days)

    async def expire_crops(self) -> int:
        return await self.lanes.in_database(self.repository.expire_pending_crops)
