"""Offline face detection with OpenCV's Haar cascades.

Haar cascades are small, ship inside opencv-python-headless 4.x and run in milliseconds, but
they were trained on unmasked faces and miss many masked ones (see the README's model card for
the measured hit rates). Callers must treat "no face" as "not found", never as "no person", and
fall back to the centre of the picture.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import cv2
import numpy as np

# The bot already runs one detection per worker thread; OpenCV's own thread pool on top of
# that only adds contention on a small machine.
cv2.setNumThreads(1)

DETECTION_SIDE = 224
"""Images are searched at this longest side, in steps of SCALE_STEP between window sizes.
Measured on masks3's test split (`maskbot evaluate`): 320 px in steps of 1.1 with the profile
cascade as well cost 60 ms per photo, this costs 13 ms, and the classifier scores the same
(balanced accuracy 0.909 then, 0.916 now), since it was trained on centre crops too."""
SCALE_STEP = 1.2
MIN_NEIGHBOURS = 4
DETECTOR_SETTINGS = f"haar-default-alt2-{DETECTION_SIDE}-{SCALE_STEP}-{MIN_NEIGHBOURS}"
"""Names what the detector does: cached face crops made with other settings are stale."""


@dataclass(frozen=True)
class FaceBox:
    x: int
    y: int
    width: int
    height: int

    @property
    def area(self) -> int:
        return self.width * self.height

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x + self.width / 2, self.y + self.height / 2)


@functools.cache
def process_detector() -> FaceDetector:
    """One detector per process, made on first use: worker processes forked by a pool each
    build their own instead of inheriting the parent's."""
    return FaceDetector()


class FaceDetector:
    """Finds the largest face: the default frontal cascade first, the stricter alt2 after.

    The profile cascade (both ways) found masked faces in 6 more masks3 photos in 100 but more
    than doubled the time on every photo without a face found, which is most masked ones."""

    CASCADES = ("haarcascade_frontalface_default.xml", "haarcascade_frontalface_alt2.xml")

    def __init__(self) -> None:
        # A CascadeClassifier keeps scratch buffers, so each thread gets its own set: threads
        # then detect in parallel (OpenCV releases the GIL) instead of queueing on a lock.
        self._local = threading.local()
        self._load()

    def _load(self) -> list:
        cascades = [cv2.CascadeClassifier(cv2.data.haarcascades + name) for name in self.CASCADES]
        if any(cascade.empty() for cascade in cascades):
            raise RuntimeError("OpenCV's Haar cascades are missing; install opencv-python-headless < 5")
        self._local.cascades = cascades
        return cascades

    def largest_face(self, rgb: np.ndarray) -> FaceBox | None:
        height, width = rgb.shape[:2]
        scale = min(1.0, DETECTION_SIDE / max(height, width))
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if scale < 1.0:
            gray = cv2.resize(gray, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)
        min_side = max(20, int(min(gray.shape) * 0.12))
        box = self._search(gray, min_side)
        if box is None:
            return None
        x, y, w, h = (int(round(value / scale)) for value in box)
        return FaceBox(x, y, min(w, width - x), min(h, height - y))

    def _search(self, gray: np.ndarray, min_side: int) -> tuple[int, int, int, int] | None:
        for cascade in getattr(self._local, "cascades", None) or self._load():
            found = cascade.detectMultiScale(gray, scaleFactor=SCALE_STEP, minNeighbors=MIN_NEIGHBOURS,
                                             minSize=(min_side, min_side))
            if len(found):
                return tuple(max(found, key=lambda b: b[2] * b[3]))
        return None
