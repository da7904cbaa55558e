"""Judging photos and clips off the event loop: within byte budgets, on their lanes, answered
with verdicts, crops and pictures, and recorded."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, TypeVar

import numpy as np
from PIL import Image

from bot.answering_model import AnsweringModel
from bot.drawing import annotate, plain
from bot.forgetting import current_work
from bot.lanes import Lanes
from bot.memory import ByteBudget, give_back_memory
from bot.records import Records
from model.explain import Explanation, explain_again
from model.predictor import PhotoPrediction, Prediction, Predictor
from model.video import predict_clip
from storage.repository import OwnedFace

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


class Judge:
    """A `user_id` here is whoever the bot tells apart (`bot.handlers.common.sender_id`)."""

    def __init__(self, model: AnsweringModel, lanes: Lanes, records: Records) -> None:
        self.model = model
        self.lanes = lanes
        self.records = records
        self.decoding = ByteBudget(DECODE_BUDGET_BYTES)
        """The photo bytes being read and decoded at once (see `check_photo`)."""
        self.clip_bytes = ByteBudget(CLIP_BUDGET_BYTES)
        """The clip bytes held in memory at once (see `check_clip`)."""

    async def check_photo(self, photo: IO[bytes], user_id: int, chat_type: str, input_kind: str) -> CheckResult:
        """Classify every face of one photo (a file, read from its start) off the event loop and
        log a row per face; raises `model.images.ImageError`.

        The photo is read into memory only within the decoding budget: a burst of big photos
        waits where it is (on disk) instead of all being decoded at once."""
        return await self._check(
            photo, self._classify, self.lanes.for_photo, self.decoding, user_id, chat_type, input_kind
        )

    async def check_clip(self, clip: IO[bytes], user_id: int, chat_type: str, input_kind: str) -> CheckResult:
        """`check_photo` for a video note, video or GIF: its best frame is judged, and the answer
        shows that frame; raises `model.images.ImageError` (`model.video.ClipError` for a clip it
        cannot judge). Clips go one at a time through a lane and a byte budget of their own,
        never the photos'."""
        return await self._check(
            clip, self._classify_clip, lambda data: self.lanes.clips, self.clip_bytes, user_id, chat_type, input_kind
        )

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
                work = current_work()
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
        ids = await self.records.record_answer(photo_prediction, crops, user_id, chat_type, input_kind)
        return CheckResult(photo_prediction, ids, annotated)

    def _classify(self, data: bytes) -> Answered:
        return answer_photo(self.model.predictor, data)

    def _classify_clip(self, data: bytes) -> Answered:
        return answer_clip(self.model.predictor, data)

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
            lane = self.lanes.clips if clip else self.lanes.for_photo(data)
            result = await loop.run_in_executor(lane, self._judged_again, data, clip, then)
            del data
        if size > TRIM_AFTER_BYTES and self.decoding.idle and self.clip_bytes.idle:
            await loop.run_in_executor(None, give_back_memory)
        return result

    def _judged_again(self, data: bytes, clip: bool, then: Callable[[PhotoPrediction], T]) -> T:
        predictor = self.model.predictor
        return then(predict_clip(data, predictor) if clip else predictor.predict_photo(data))
