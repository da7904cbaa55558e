"""The faces a "Why?" button can still explain: kept in this process's memory only, briefly.

"Why?" draws the face crop, so answering it needs the crop; storing crops for it would store faces
nobody agreed to share. So the crops stay in memory, never on disk or in the database: for
FACE_SECONDS after the answer, at most CAPACITY faces at once (the oldest go first), and no longer
than their user wants them ("No, don't" share, /forget). After that the button says it expired.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from model.predictor import Prediction

FACE_SECONDS = 15 * 60
CAPACITY = 500
"""About 25 MB of crops (128x128 RGB each, the maps are tiny): a busy replica keeps its latest
faces for less than FACE_SECONDS rather than grow."""


@dataclass(frozen=True)
class RecentFace:
    """What explaining one verdict needs (`model.explain.explain`), and whose it is."""

    pixels: np.ndarray
    class_maps: np.ndarray
    label: str
    landmarks: tuple[tuple[float, float], ...]
    user_hash: str
    until: float


class RecentFaces:
    """Faces by prediction id, oldest first. Used from the event loop only: no lock."""

    def __init__(
        self, seconds: float = FACE_SECONDS, capacity: int = CAPACITY, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self.capacity = capacity
        self.clock = clock
        self._faces: OrderedDict[int, RecentFace] = OrderedDict()

    def __len__(self) -> int:
        self._expire()
        return len(self._faces)

    def keep(self, user_hash: str, faces: Iterable[tuple[int, Prediction]]) -> None:
        """Keep the explainable ones of (prediction id, verdict) pairs for FACE_SECONDS."""
        until = self.clock() + self.seconds
        for prediction_id, prediction in faces:
            if prediction.class_maps is None or not prediction.explainable:
                continue
            # A copy: the crop is a view into its photo's whole batch of crops, which would
            # otherwise stay in memory with it.
            self._faces[prediction_id] = RecentFace(
                prediction.pixels.copy(),
                prediction.class_maps,
                prediction.label,
                prediction.crop_landmarks,
                user_hash,
                until,
            )
        while len(self._faces) > self.capacity:
            self._faces.popitem(last=False)
        self._expire()

    def has(self, prediction_id: int) -> bool:
        self._expire()
        return prediction_id in self._faces

    def take(self, prediction_id: int) -> RecentFace | None:
        """The face, gone from memory: a "Why?" is answered once."""
        self._expire()
        return self._faces.pop(prediction_id, None)

    def drop(self, prediction_id: int) -> None:
        self._faces.pop(prediction_id, None)

    def forget(self, user_hash: str) -> None:
        for prediction_id in [key for key, face in self._faces.items() if face.user_hash == user_hash]:
            del self._faces[prediction_id]

    def _expire(self) -> None:
        # Every face is kept equally long, so the oldest expire first.
        now = self.clock()
        while self._faces and next(iter(self._faces.values())).until <= now:
            self._faces.popitem(last=False)
