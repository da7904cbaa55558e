"""What the bot does, as plain Python: no Telegram types in or out.

Handlers turn an update into one call here and a reply; everything that must be tested
without a chat (inference off the event loop, pseudonyms, logging, crops kept for consent) lives here.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import io
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any, TypeVar

import numpy as np
from PIL import Image

from bot.callbacks import RowTokens
from bot.drawing import annotate, plain
from bot.i18n import LANGUAGES, language_for
from bot.memory import ByteBudget, give_back_memory
from bot.ratelimit import (
    BUTTON_PRESSES_PER_MINUTE,
    GROUP_ANSWERS_PER_MINUTE,
    UPDATES_PER_MINUTE,
    Limit,
    RateLimiter,
    Refusal,
)
from model.explain import Explanation, explain_again
from model.images import slow_to_decode
from model.predictor import PhotoPrediction, Prediction, Predictor
from model.registry import RegistryError, UnusableModel, load_answering
from model.video import predict_clip
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
T = TypeVar("T")
DECODE_BUDGET_BYTES = 40 * 1024 * 1024
"""Photo bytes read and decoded at once, all users together: two of the largest files Telegram
serves. A 20 MB image takes several times its size while it is decoded; 60 of them at once took
the bot from 234 MB to 1.6 GB."""
CLIP_BUDGET_BYTES = 40 * 1024 * 1024
"""Clip bytes held in memory at once, all users together, apart from photos' budget: the clip
being decoded and the next. Clips waiting beyond that wait on disk."""
TRIM_AFTER_BYTES = 1024 * 1024
"""After a photo this big, once no other is being decoded, freed memory is handed back."""
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
    """The picture to answer with (JPEG): a group photo's annotated copy, or a clip's frame
    judged (annotated when it holds several faces); None for a photo with one face judged."""

    @property
    def prediction(self) -> Prediction:
        """The largest face's verdict: the whole answer when it is the only face."""
        return self.photo.faces[0]


@dataclass(eq=False)
class Work:
    """One photo or clip of a user's being answered, from its download to its rows (see
    `MaskService.answering`)."""

    task: asyncio.Task[Any]
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    decoding: concurrent.futures.Future[Any] | None = None
    """Its decoding while it is in a lane: it may wait there behind other users' work."""
    decoded: bool = False
    """Whether its decoding is over: its rows may be being written."""
    forgotten: bool = False
    """Whether /forget cancelled it before its decoding started: nothing of it was judged or kept."""

    def cancel_unstarted(self) -> bool:
        """Cancel it if its decoding has not started (downloading, waiting for the decoding
        budget or queued in its lane); False once a thread is decoding it or after."""
        if self.decoded or (self.decoding is not None and not self.decoding.cancel()):
            return False  # running or done: its rows are being written, and /forget waits for them
        self.forgotten = True
        self.task.cancel()
        return True


_WORK: contextvars.ContextVar[Work | None] = contextvars.ContextVar("work", default=None)
"""The `Work` the current task answers, for `MaskService._check` to note its decoding in."""


@dataclass(frozen=True)
class Reloaded:
    """What `MaskService.reload` did."""

    before: str
    now: str
    """The versions answering before and after."""
    failures: tuple[str, ...] = ()
    """Why the registry's champion, and each champion before it that was tried, cannot answer;
    empty when the champion answers."""
    news: bool = False
    """Whether admins have not been told of these failures yet (`note_model_failures`)."""


def encode_png(pixels: np.ndarray) -> bytes:
    """Re-encode the crop: a fresh PNG carries no EXIF, GPS or camera data of the original."""
    # Fast compression (zlib level 1): every face answered makes a crop, few are ever shared, and
    # 128x128 stays small.
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


Answered = tuple[PhotoPrediction, list[bytes], bytes | None]
"""A photo's verdicts, each judged face's crop (PNG) and the picture to answer with, if any."""


def answer_photo(predictor: Predictor, data: bytes) -> Answered:
    """The CPU work for one photo, all in an inference thread (the event loop only waits): its
    verdicts, their crops, and a group photo's annotated copy. `maskbot bench` times this."""
    return _with_pictures(predictor.predict_photo(data))


def answer_clip(predictor: Predictor, data: bytes) -> Answered:
    """The CPU work for one clip (`model.video.predict_clip`); the picture to answer with is the
    frame judged, annotated when it holds several faces."""
    photo, crops, annotated = _with_pictures(predict_clip(data, predictor))
    return photo, crops, annotated if annotated is not None else plain(photo)


def _with_pictures(photo: PhotoPrediction) -> Answered:
    crops = [encode_png(prediction.pixels) for prediction in photo.faces]
    return photo, crops, annotate(photo) if photo.is_group else None


class MaskService:
    """A `user_id` here is whoever the bot tells apart (`bot.handlers.common.sender_id`): a user's
    id, or the chat an anonymous group admin or a channel speaks as."""

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
        self.model_failures: tuple[str, ...] = ()
        """Why the champion could not answer at the last load (see `note_model_failures`)."""
        self.rate_limiter = rate_limiter
        self.update_limiter = RateLimiter(UPDATES_PER_MINUTE)
        self.button_limiter = RateLimiter(BUTTON_PRESSES_PER_MINUTE)
        self.group_limiter = RateLimiter(GROUP_ANSWERS_PER_MINUTE)
        self.repository = repository
        self.pseudonymize = pseudonymize
        self._requester_tags = pseudonymize.derive("forget-requester")
        self._chat_tags = pseudonymize.derive("forget-chat")
        self._row_tokens = RowTokens(pseudonymize)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inference")
        # The database has threads of its own: /forget, a button's answer or a /language lookup
        # never waits behind a burst of photos being decoded and judged.
        self._database = ThreadPoolExecutor(max_workers=2, thread_name_prefix="database")
        # Huge PNGs, WebPs and TIFFs (slow_to_decode) queue here, one at a time, so that a user
        # sending them delays only themselves, not everyone's photos on the inference threads.
        self._slow_lane = ThreadPoolExecutor(max_workers=1, thread_name_prefix="slow-decode")
        # Clips have a lane and a byte budget of their own: however many are queued, photos never
        # wait behind them. One clip is judged at a time (decoded in a process of its own, then its
        # frames searched for faces here).
        self._clip_lane = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clips")
        self._model_watchers: list[Callable[[str], None]] = []
        self.decoding = ByteBudget(DECODE_BUDGET_BYTES)
        """The photo bytes being read and decoded at once (see `check_photo`)."""
        self.clip_bytes = ByteBudget(CLIP_BUDGET_BYTES)
        """The clip bytes held in memory at once (see `check_clip`)."""
        self._clipping: set[str] = set()
        """The pseudonyms of the users one of whose clips is being answered (see `one_clip`)."""
        self._answering: dict[str, set[Work]] = {}
        """The photos being answered, by their user's pseudonym (see `answering`)."""
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
        """Run blocking CPU work (drawing, loading a model) on the inference threads, off the
        event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)

    async def _in_database(self, work: Callable[..., T], *args) -> T:
        """Run database work on the database's threads: never queued behind inference."""
        return await asyncio.get_running_loop().run_in_executor(self._database, work, *args)

    def admit(self, user_id: int | None, limit: Limit, group: int | None) -> Refusal | None:
        """The rate limits of one update, all checked here: its sender's budget of its kind
        (`limit`: photos and clips, button presses, or other messages), then the budget of the
        group it came in (`group`: the chat's id, None outside groups). The first that refuses,
        or None.

        The group's id is only a key in memory here: never stored, never logged."""
        if user_id is not None:
            limiter = {
                Limit.UPLOADS: self.rate_limiter,
                Limit.BUTTONS: self.button_limiter,
                Limit.UPDATES: self.update_limiter,
            }[limit]
            admission = limiter.allow(self.pseudonymize(user_id))
            if not admission.allowed:
                return Refusal(limit, admission)
        if group is not None:
            admission = self.group_limiter.allow(group)
            if not admission.allowed:
                return Refusal(Limit.GROUP, admission)
        return None

    @contextlib.asynccontextmanager
    async def answering(self, user_id: int) -> AsyncIterator[Work]:
        """While one of this user's photos or clips is being answered, from its download to its
        rows: `forget` cancels it while its decoding has not started (the task then gets
        CancelledError, with the work's `forgotten` set), else waits for it, so nothing of
        theirs is written after /forget."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("answering runs in a task")
        user_hash = self.pseudonymize(user_id)
        work = Work(task)
        self._answering.setdefault(user_hash, set()).add(work)
        token = _WORK.set(work)
        try:
            yield work
        finally:
            _WORK.reset(token)
            work.done.set_result(None)
            pending = self._answering[user_hash]
            pending.discard(work)
            if not pending:
                del self._answering[user_hash]

    @contextlib.contextmanager
    def one_clip(self, user_id: int) -> Iterator[bool]:
        """Whether this user may send a clip now: False while another clip of theirs is being
        answered (from its download to its answer), True otherwise, and then theirs until the
        block ends. A user cannot fill the clip lane by themselves."""
        user_hash = self.pseudonymize(user_id)
        if user_hash in self._clipping:
            yield False
            return
        self._clipping.add(user_hash)
        try:
            yield True
        finally:
            self._clipping.discard(user_hash)

    async def check_photo(self, photo: IO[bytes], user_id: int, chat_type: str, input_kind: str) -> CheckResult:
        """Classify every face of one photo (a file, read from its start) off the event loop and
        log a row per face; raises `model.images.ImageError`.

        The photo is read into memory only within the decoding budget: a burst of big photos
        waits where it is (on disk) instead of all being decoded at once."""
        return await self._check(photo, self._classify, self._photo_lane, self.decoding, user_id, chat_type, input_kind)

    async def check_clip(self, clip: IO[bytes], user_id: int, chat_type: str, input_kind: str) -> CheckResult:
        """`check_photo` for a video note, video or GIF: its best frame is judged, and the answer
        shows that frame; raises `model.images.ImageError` (`model.video.ClipError` for a clip it
        cannot judge). Clips go one at a time through a lane and a byte budget of their own,
        never the photos'."""
        return await self._check(
            clip, self._classify_clip, lambda data: self._clip_lane, self.clip_bytes, user_id, chat_type, input_kind
        )

    def _photo_lane(self, data: bytes) -> ThreadPoolExecutor:
        return self._slow_lane if slow_to_decode(data) else self._executor

    async def _check(
        self,
        file: IO[bytes],
        classify: Callable[[bytes], Answered],
        lane_for: Callable[[bytes], ThreadPoolExecutor],
        budget: ByteBudget,
        user_id: int,
        chat_type: str,
        input_kind: str,
    ) -> CheckResult:
        loop = asyncio.get_running_loop()
        size = file.seek(0, io.SEEK_END)
        file.seek(0)
        try:
            async with budget.hold(size):
                data = await loop.run_in_executor(None, file.read)  # not queued behind inference
                decoding = lane_for(data).submit(classify, data)
                del data
                work = _WORK.get()
                if work is not None:
                    work.decoding = decoding
                try:
                    photo_prediction, crops, annotated = await asyncio.wrap_future(decoding)
                finally:
                    # The future holds an error's traceback, which holds this frame: no cycle.
                    del decoding
                    if work is not None:
                        work.decoding, work.decoded = None, True
        finally:  # a refused photo took as much memory to decode as an answered one
            if size > TRIM_AFTER_BYTES and self.decoding.idle and self.clip_bytes.idle:
                await loop.run_in_executor(None, give_back_memory)
        return await self._record(photo_prediction, crops, annotated, user_id, chat_type, input_kind)

    async def _record(
        self,
        photo: PhotoPrediction,
        crops: list[bytes],
        annotated: bytes | None,
        user_id: int,
        chat_type: str,
        input_kind: str,
    ) -> CheckResult:
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
            ids = await self._in_database(self.repository.record_predictions, records, crops)
        except Exception:
            log.exception("event=database_error action=record_prediction")
            return CheckResult(photo, None, annotated)
        return CheckResult(photo, tuple(ids), annotated)

    def _classify(self, data: bytes) -> Answered:
        return answer_photo(self.predictor, data)

    def _classify_clip(self, data: bytes) -> Answered:
        return answer_clip(self.predictor, data)

    async def explain(self, file: IO[bytes], face: OwnedFace, clip: bool) -> Explanation | None:
        """Why one of a user's faces got its verdict, from what they sent (a file, read from its
        start; with `clip`, a clip) downloaded again: judged again as it was and explained
        (`model.explain.explain_again`). Nothing of it is kept; raises `model.images.ImageError`."""
        return await self._judge_again(
            file, clip, lambda photo: explain_again(photo, face.number, face.face_share, face.label)
        )

    async def everyone(self, file: IO[bytes], face: OwnedFace, clip: bool) -> tuple[PhotoPrediction, bytes] | None:
        """The group answer for a photo first answered about its main face (one of its faces is
        `face`): every face judged again, and the annotated picture. None when the photo no longer
        shows the faces that were answered (a new model may find others)."""

        def draw(photo: PhotoPrediction) -> tuple[PhotoPrediction, bytes] | None:
            return (photo, annotate(photo)) if len(photo.faces) == len(face.faces) else None

        return await self._judge_again(file, clip, draw)

    async def _judge_again(self, file: IO[bytes], clip: bool, then: Callable[[PhotoPrediction], T]) -> T:
        """`then` of a photo or clip judged again as `check_photo` and `check_clip` judge it:
        within their byte budgets, on their lanes."""
        loop = asyncio.get_running_loop()
        size = file.seek(0, io.SEEK_END)
        file.seek(0)
        async with (self.clip_bytes if clip else self.decoding).hold(size):
            data = await loop.run_in_executor(None, file.read)
            lane = self._clip_lane if clip else self._photo_lane(data)
            result = await loop.run_in_executor(lane, self._judged_again, data, clip, then)
            del data
        if size > TRIM_AFTER_BYTES and self.decoding.idle and self.clip_bytes.idle:
            await loop.run_in_executor(None, give_back_memory)
        return result

    def _judged_again(self, data: bytes, clip: bool, then: Callable[[PhotoPrediction], T]) -> T:
        return then(predict_clip(data, self.predictor) if clip else self.predictor.predict_photo(data))

    async def feedback(
        self,
        prediction_id: int,
        user_id: int,
        is_correct: bool,
        corrected_label: str | None = None,
        share_crop: bool = False,
    ) -> FeedbackOutcome:
        """Record a user's verdict on their own prediction; the crop is kept only with consent."""
        return await self._in_database(
            self.repository.record_feedback,
            prediction_id,
            self.pseudonymize(user_id),
            is_correct,
            corrected_label,
            share_crop,
        )

    async def answer_exists(self, prediction_id: int) -> bool:
        """Whether this prediction's row is still kept (not deleted by /forget or retention)."""
        return await self._in_database(self.repository.prediction_exists, prediction_id)

    async def owned_face(self, prediction_id: int, user_id: int) -> OwnedFace | None:
        """What the bot answered for this face and the faces of its photo, if it is this user's."""
        return await self._in_database(self.repository.owned_face, prediction_id, self.pseudonymize(user_id))

    def requester_tag(self, user_id: int) -> str:
        """A short tag of the user for buttons only they may press (the /forget prompt), under a
        key of its own: a copy of the database cannot link it to their pseudonym."""
        return self._requester_tags(user_id)[:12]

    def chat_tag(self, chat_id: int) -> str:
        """A short tag of the chat a button is shown in (the /forget prompt), so that it works
        only there, under a key of its own."""
        return self._chat_tags(chat_id)[:12]

    def button_token(self, prediction_id: int, chat_id: int) -> str:
        """What a button shown in this chat carries for this prediction (bot.callbacks.RowTokens)."""
        return self._row_tokens.encode(prediction_id, chat_id)

    def prediction_of(self, token: str, chat_id: int) -> int | None:
        """The prediction a button pressed in this chat stands for; None for a token this bot did
        not make, or made for another chat."""
        return self._row_tokens.decode(token, chat_id)

    async def language_of(self, user_id: int, language_code: str | None) -> str:
        """The language to answer this user in: their /language choice, else their Telegram
        client's language when the bot speaks it, else English."""
        user_hash = self.pseudonymize(user_id)
        cached = self._languages.get(user_hash)
        if cached is not None and time.monotonic() - cached[1] < LANGUAGE_CACHE_SECONDS:
            chosen = cached[0]
        else:
            chosen = await self._in_database(self.repository.language_of, user_hash)
            if len(self._languages) > 10_000:  # one entry per recent user: cleared, never grown past this
                self._languages.clear()
            self._languages[user_hash] = (chosen, time.monotonic())
        return chosen if chosen in LANGUAGES else language_for(language_code)

    async def choose_language(self, user_id: int, language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"no catalog for {language!r}")
        user_hash = self.pseudonymize(user_id)
        await self._in_database(self.repository.set_language, user_hash, language)
        self._languages[user_hash] = (language, time.monotonic())

    async def forget(self, user_id: int) -> Deleted:
        """Delete everything of this user. Their photos and clips not yet being decoded are
        cancelled (`Work.cancel_unstarted`); the ones being decoded are waited for, and their
        rows go too instead of arriving after. Other users' work is never waited for: the
        database has threads of its own."""
        user_hash = self.pseudonymize(user_id)
        pending = list(self._answering.get(user_hash, ()))
        for work in pending:
            work.cancel_unstarted()
        if pending:
            await asyncio.wait([work.done for work in pending])
        self._languages.pop(user_hash, None)
        return await self._in_database(self.repository.forget_user, user_hash)

    async def stats(self, days: int) -> Stats:
        """The last `days` UTC days, today included."""
        return await self._in_database(recent_stats, self.repository.database, days)

    async def summarise_days(self) -> list[date]:
        """Summarise every finished day not yet summarised, against the answering model's class mix."""
        reference = self.predictor.metadata.get("class_mix")
        return await self._in_database(lambda: summaries.catch_up(self.repository.database, reference=reference))

    async def claim_drift_alerts(self, since: date) -> set[tuple[date, str]]:
        return await self._in_database(self.repository.claim_drift_alerts, since)

    async def purge(self, retention_days: int) -> Deleted:
        return await self._in_database(self.repository.purge_older_than, retention_days)

    async def expire_crops(self) -> int:
        return await self._in_database(self.repository.expire_pending_crops)

    async def reload(self) -> Reloaded:
        """Load the registry's champion if it changed, or, when it cannot answer, the last champion
        before it that can (`model.registry.load_answering`); when none can, the model answering
        now goes on.

        The new model is loaded and warmed up in the executor while the old one keeps answering;
        then one assignment swaps them, so no photo sees a half-loaded model."""

        before = self.predictor.version
        if self.model_source is None:
            return Reloaded(before, before)
        try:
            answering = await self.run_blocking(load_answering, self.model_source, Path(self.predictor.model_dir))
        except UnusableModel as error:
            failures = error.reasons
        except RegistryError as error:  # a registry it cannot read (a damaged history, say)
            failures = (str(error),)
        else:
            failures = answering.failures
            if answering.predictor is not None:
                self.predictor = answering.predictor
                log.info("event=model_reloaded before=%s now=%s", before, self.predictor.version)
                for on_change in self._model_watchers:
                    on_change(self.predictor.version)
        news = self.note_model_failures(failures)
        return Reloaded(before, self.predictor.version, failures, news)

    def note_model_failures(self, failures: tuple[str, ...]) -> bool:
        """Log why the champion cannot answer (an ERROR line at every load) and remember it;
        True when it is news to admins: they are alerted once a trouble, not at every daily check."""
        if failures:
            log.error("event=model_unusable model=%s failures=%s", self.predictor.version, " | ".join(failures))
        news = bool(failures) and failures != self.model_failures
        self.model_failures = failures
        return news

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
        self._clip_lane.shutdown(wait=True)
        self._slow_lane.shutdown(wait=True)
        self._executor.shutdown(wait=True)
        self._database.shutdown(wait=True)
        self.repository.database.dispose()
