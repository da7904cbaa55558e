"""What the bot does, as plain Python: no Telegram types in or out.

Handlers turn an update into one call here and a reply; everything that must be tested
without a chat (inference off the event loop, pseudonyms, logging, crops kept for consent) lives here.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from bot.callbacks import requester_tag
from bot.drawing import annotate
from bot.i18n import LANGUAGES, language_for
from bot.ratelimit import UPDATES_PER_MINUTE, Admission, RateLimiter
from model.images import slow_to_decode
from model.predictor import PhotoPrediction, Prediction, Predictor
from model.registry import active_model_dir
from storage import summaries
from storage.pseudonyms import Pseudonymizer
from storage.repository import (
    CHAT_TYPES,
    CLASS_NAMES,
    Deleted,
    FeedbackOutcome,
    OwnedFace,
    PredictionRecord,
    Repository,
    Stats,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
LANGUAGE_CACHE_SECONDS = 60.0
"""How long a replica trusts a language it read; a /language choice on another replica shows
here within this time."""


@dataclass(frozen=True)
class CheckResult:
    photo: PhotoPrediction
    prediction_ids: tuple[int, ...] | None
    """One per judged face, in the same order; None when the database could not record them:
    the user still gets the verdicts."""
    annotated: bytes | None
    """A group photo's annotated copy (JPEG); None for a photo with one face judged."""

    @property
    def prediction(self) -> Prediction:
        """The largest face's verdict: the whole answer when it is the only face."""
        return self.photo.faces[0]


def encode_png(pixels: np.ndarray) -> bytes:
    """Re-encode the crop: a fresh PNG carries no EXIF, GPS or camera data of the original."""
    # Fast compression (OpenCV's encoder, a fifth faster than Pillow's): every face answered makes
    # a crop, few are ever shared, and 128x128 stays small.
    _, encoded = cv2.imencode(".png", np.ascontiguousarray(pixels[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    return encoded.tobytes()


class MaskService:
    def __init__(
        self,
        predictor: Predictor,
        repository: Repository,
        pseudonymize: Pseudonymizer,
        rate_limiter: RateLimiter,
        workers: int = 2,
        model_source: Path | None = None,
    ) -> None:
        self.predictor = predictor
        self.model_source = model_source
        """A registry folder to follow on reload; None pins the predictor given."""
        self.rate_limiter = rate_limiter
        self.update_limiter = RateLimiter(UPDATES_PER_MINUTE)
        self.repository = repository
        self.pseudonymize = pseudonymize
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inference")
        # Huge PNGs, WebPs and TIFFs (slow_to_decode) queue here, one at a time, so that a user
        # sending them delays only themselves, not everyone's photos on the inference threads.
        self._slow_lane = ThreadPoolExecutor(max_workers=1, thread_name_prefix="slow-decode")
        self._model_watchers: list[Callable[[str], None]] = []
        self._languages: dict[str, tuple[str | None, float]] = {}
        """Recent /language lookups by pseudonym, with when they were read: a photo's language need
        not wait for a database read queued behind other users' photos on the inference threads."""

    @property
    def model_version(self) -> str:
        return self.predictor.version

    def watch_model(self, on_change: Callable[[str], None]) -> None:
        """Call `on_change` with the answering model's version now and after every change."""
        self._model_watchers.append(on_change)
        on_change(self.model_version)

    async def run_blocking(self, work: Callable[..., T], *args) -> T:
        """Run blocking work (database, drawing) on the service's threads, off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)

    def allow(self, user_id: int) -> Admission:
        """May this user send another photo now; if not, in how many seconds, and is this the
        first refusal (the one to answer)."""
        return self.rate_limiter.allow(self.pseudonymize(user_id))

    def allow_update(self, user_id: int) -> Admission:
        """Like `allow`, for every other kind of update (texts, commands, buttons)."""
        return self.update_limiter.allow(self.pseudonymize(user_id))

    async def check_photo(self, data: bytes, user_id: int, chat_type: str, input_kind: str) -> CheckResult:
        """Classify every face of one photo off the event loop and log a row per face; raises
        `model.images.ImageError`."""
        loop = asyncio.get_running_loop()
        lane = self._slow_lane if slow_to_decode(data) else self._executor
        photo, crops, annotated = await loop.run_in_executor(lane, self._classify, data)
        user_hash = self.pseudonymize(user_id)
        photo_id = uuid.uuid4().hex
        records = [
            PredictionRecord(
                user_hash=user_hash,
                chat_type=chat_type if chat_type in CHAT_TYPES else "private",
                input_kind=input_kind,
                label=prediction.label,
                confidence=prediction.confidence,
                probabilities=[prediction.probabilities[name] for name in CLASS_NAMES],
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
            ids = await self.run_blocking(self.repository.record_predictions, records, crops)
        except Exception:
            log.exception("event=database_error action=record_prediction")
            return CheckResult(photo, None, annotated)
        return CheckResult(photo, tuple(ids), annotated)

    def _classify(self, data: bytes) -> tuple[PhotoPrediction, list[bytes], bytes | None]:
        """The CPU work for one photo, all in an inference thread: the event loop only waits.
        A group photo is drawn on here too."""
        photo = self.predictor.predict_photo(data)
        crops = [encode_png(prediction.pixels) for prediction in photo.faces]
        return photo, crops, annotate(photo) if photo.is_group else None

    async def feedback(
        self,
        prediction_id: int,
        user_id: int,
        is_correct: bool,
        corrected_label: str | None = None,
        share_crop: bool = False,
    ) -> FeedbackOutcome:
        """Record a user's verdict on their own prediction; the crop is kept only with consent."""
        return await self.run_blocking(
            self.repository.record_feedback,
            prediction_id,
            self.pseudonymize(user_id),
            is_correct,
            corrected_label,
            share_crop,
        )

    async def owned_face(self, prediction_id: int, user_id: int) -> OwnedFace | None:
        """What the bot answered for this face and the faces of its photo, if it is this user's."""
        return await self.run_blocking(self.repository.owned_face, prediction_id, self.pseudonymize(user_id))

    def requester_tag(self, user_id: int) -> str:
        """A short tag of the user's pseudonym, for buttons only that user may press."""
        return requester_tag(self.pseudonymize(user_id))

    async def language_of(self, user_id: int, language_code: str | None) -> str:
        """The language to answer this user in: their /language choice, else their Telegram
        client's language when the bot speaks it, else English."""
        user_hash = self.pseudonymize(user_id)
        cached = self._languages.get(user_hash)
        if cached is not None and time.monotonic() - cached[1] < LANGUAGE_CACHE_SECONDS:
            chosen = cached[0]
        else:
            chosen = await self.run_blocking(self.repository.language_of, user_hash)
            if len(self._languages) > 10_000:  # one entry per recent user: cleared, never grown past this
                self._languages.clear()
            self._languages[user_hash] = (chosen, time.monotonic())
        return chosen if chosen in LANGUAGES else language_for(language_code)

    async def choose_language(self, user_id: int, language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"no catalog for {language!r}")
        user_hash = self.pseudonymize(user_id)
        await self.run_blocking(self.repository.set_language, user_hash, language)
        self._languages[user_hash] = (language, time.monotonic())

    async def forget(self, user_id: int) -> Deleted:
        self._languages.pop(self.pseudonymize(user_id), None)
        return await self.run_blocking(self.repository.forget_user, self.pseudonymize(user_id))

    async def stats(self, days: int) -> Stats:
        """The last `days` UTC days, today included."""
        return await self.run_blocking(self.repository.recent_stats, days)

    async def summarise_days(self) -> list[date]:
        """Summarise every finished day not yet summarised, against the answering model's class mix."""
        reference = self.predictor.metadata.get("class_mix")
        return await self.run_blocking(lambda: summaries.catch_up(self.repository.database, reference=reference))

    async def claim_drift_alerts(self, since: date) -> set[tuple[date, str]]:
        return await self.run_blocking(self.repository.claim_drift_alerts, since)

    async def purge(self, retention_days: int) -> Deleted:
        return await self.run_blocking(self.repository.purge_older_than, retention_days)

    async def expire_crops(self) -> int:
        return await self.run_blocking(self.repository.expire_pending_crops)

    async def reload(self) -> tuple[str, str]:
        """Load the registry's champion if it changed: (version before, version now).

        The new model is loaded and warmed up in the executor while the old one keeps answering;
        then one assignment swaps them, so no photo sees a half-loaded model."""

        before = self.predictor.version
        if self.model_source is None:
            return before, before
        target = await self.run_blocking(active_model_dir, self.model_source)
        if target.resolve() == Path(self.predictor.model_dir).resolve():
            return before, before
        self.predictor = await self.run_blocking(Predictor, target)
        log.info("event=model_reloaded before=%s now=%s", before, self.predictor.version)
        for on_change in self._model_watchers:
            on_change(self.predictor.version)
        return before, self.predictor.version

    def model_summary(self) -> dict:
        metadata = self.predictor.metadata
        size = sum(f.stat().st_size for f in Path(self.predictor.model_dir).iterdir() if f.is_file())
        return {
            "version": self.predictor.version,
            "architecture": metadata.get("architecture"),
            "parameters": metadata.get("parameters"),
            "created": metadata.get("created"),
            "size_bytes": size,
            "threshold": self.predictor.threshold,
            "temperature": self.predictor.temperature,
            "metrics": metadata.get("metrics", {}),
        }

    def close(self) -> None:
        """Finish the work in flight, then release the threads and the database connections."""
        self._slow_lane.shutdown(wait=True)
        self._executor.shutdown(wait=True)
        self.repository.database.dispose()
