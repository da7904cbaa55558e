"""One camera's frames judged: faces found and judged by the bot's model, followed from frame to
frame, one verdict per person, people counted per minute into the database, and the threshold
alert claimed there. No picture, face, box or track leaves this process but the live view."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy.exc import SQLAlchemyError

from model.faces import FaceBox, FaceDetector
from model.predictor import GROUP_SEARCH_SIDE, MAX_FACES, MIN_FACE_SIDE, Predictor
from model.preprocess import crop_square
from model.tracking import Person, Tracker
from storage import cameras
from storage.cameras import CameraTally
from storage.database import Database
from storage.repository import utc_now

log = logging.getLogger("camera.watcher")

UNMASKED = ("without_mask", "mask_weared_incorrect")
"""The verdicts the threshold alert counts."""
FLUSH_EVERY = 5.0
"""Seconds between writes of the counts: the longest a counted person waits to reach the database."""


@dataclass(frozen=True)
class Seen:
    """One face in one judged frame: where, which person, their verdict so far."""

    face: FaceBox
    track: int
    label: str
    unsure: bool


@dataclass(frozen=True)
class Judged:
    """A judged frame, for the live view only (`camera.live.Board`)."""

    pixels: np.ndarray
    seen: tuple[Seen, ...]


@dataclass(frozen=True)
class Alert:
    camera: str
    minutes: int
    tally: CameraTally
    window: datetime


class Watcher:
    """Judges one camera's samples and counts its people. Not thread-safe: one thread calls it."""

    def __init__(self, name: str, predictor: Predictor, database: Database) -> None:
        self.name = name
        self.predictor = predictor
        self.database = database
        # One thread, the larger search only: a door camera's faces are small in its frame, and the
        # watcher's budget is one core.
        self.detector = FaceDetector(side=GROUP_SEARCH_SIDE, threads=1)
        self.tracker = Tracker()
        self.started = utc_now()
        """The wall-clock time of sample time 0: a person's minute is `started` plus when they left."""
        self.pending: dict[datetime, Counter[str]] = {}
        self.counted: Counter[str] = Counter()
        """Everyone counted since the start, by verdict: what the watcher reports when it ends."""
        self.frames = 0

    def judge(self, pixels: np.ndarray, at: float) -> Judged:
        """Find, judge and follow the faces of one sample taken `at` seconds after the start."""
        faces = [face for face in self.detector.search(pixels) if face.side >= MIN_FACE_SIDE][:MAX_FACES]
        tracks, gone = self.tracker.update(faces, at, (pixels.shape[1], pixels.shape[0]))
        if faces:
            rows = self.predictor.probabilities(np.stack([crop_square(pixels, face) for face in faces]))
            for track, row in zip(tracks, rows, strict=True):
                track.vote(row)
        self.count(gone)
        self.frames += 1
        return Judged(
            pixels,
            tuple(
                Seen(face, track.id, track.label, track.confidence < self.predictor.threshold)
                for face, track in zip(faces, tracks, strict=True)
            ),
        )

    def count(self, people: list[Person]) -> None:
        for person in people:
            minute = cameras.minute_of(self.started + timedelta(seconds=person.last_seen))
            self.pending.setdefault(minute, Counter())[person.label] += 1
            self.counted[person.label] += 1

    def finish(self) -> None:
        """Count everyone still in the picture: the end of a file, or a stop."""
        self.count(self.tracker.finish())

    def flush(self) -> int:
        """Write the counts not yet written; returns how many people that was. When the database
        cannot take them, they stay pending for the next try: no person is lost to an outage."""
        pending, self.pending = self.pending, {}
        try:
            cameras.add_counts(self.database, self.name, pending)
        except SQLAlchemyError:
            for minute, counter in pending.items():
                self.pending.setdefault(minute, Counter()).update(counter)
            raise
        return sum(sum(counter.values()) for counter in pending.values())

    def alert_due(self, now: datetime, minutes: int, share: float, min_people: int) -> Alert | None:
        """The threshold alert, when the last `minutes` minutes passed it and this process is the
        first to claim it for the current window of `minutes` minutes."""
        tallies = cameras.tallies(
            self.database, now - timedelta(minutes=minutes), now + timedelta(minutes=1), self.name
        )
        if not tallies:
            return None
        tally = tallies[0]
        unmasked = tally.share(*UNMASKED)
        if tally.people < min_people or unmasked is None or unmasked <= share:
            return None
        window = cameras.window_start(now, minutes)
        if not cameras.claim(self.database, f"camera {self.name} {window.isoformat()}", now):
            return None
        return Alert(self.name, minutes, tally, window)
