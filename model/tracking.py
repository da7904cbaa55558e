"""Following faces from one sampled frame of a camera to the next, and one verdict per person.

Why not a tracker library (docs/cameras.md, "Following people" has the comparison): norfair pins
NumPy below 2, which the rest of maskbot has left; motpy has had no release since 2021; ByteTrack
in supervision (MIT, kept up) brings SciPy and Matplotlib into a serving install, about 250 MB,
and 100 MB of memory at import, a third of the watcher's budget; boxmot is AGPL-3.0 and needs
PyTorch. What a door camera needs is small: a handful of faces, 4 frames a second. Each face is
matched to the track whose predicted centre is nearest, within a distance counted in face widths,
so that a face that moved more than its own width between two samples (a person walking past a
close camera) keeps its track, where plain IoU matching would lose it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from model import CLASS_NAMES
from model.faces import FaceBox

MAX_JUMP = 1.0
"""How far a face may be from its track's predicted centre, in the larger of the two faces'
widths, besides what MAX_SPEED allows for the time since the track was last seen."""
MAX_SPEED = 6.0
"""Face widths a second a person seen once may have moved: walking past at 1.4 m/s, a 15 cm face
moves 9 widths a second. At 4 frames a second: 2.5 widths to the next sample, 4 across a missed one."""
SPEED_CHANGE = 2.0
"""Face widths a second a person seen twice or more may stray from where their own speed puts
them: turning, slowing down. Tighter than MAX_SPEED, so that where two people cross, each keeps
their own track."""
MAX_GROWTH = 1.5
"""How much wider or narrower a face may be than its track's last one: a nearer person's face,
not another person's."""
LOST_AFTER = 1.5
"""Seconds unseen after which a person has left: six samples at 4 frames a second, enough to
ride over a missed detection or someone turning away for a moment."""
UNPREDICTED_FOR = 0.5
"""Seconds of MAX_SPEED allowed at most: over a longer gap the track's own speed predicts where the
face went, and a wider gate would take a newcomer for someone who left."""
MIN_JUDGED = 2
"""Frames a face must be judged in to count as a person: a detection in one frame only is more
often a poster, a reflection or a false find than someone passing."""


@dataclass
class Track:
    """One person followed across frames."""

    id: int
    face: FaceBox
    last_seen: float
    velocity: tuple[float, float] = (0.0, 0.0)
    """Pixels a second, smoothed: where the face is expected in the next frame."""
    votes: np.ndarray = field(default_factory=lambda: np.zeros(len(CLASS_NAMES)))
    """The sum of the calibrated probabilities of every frame the face was judged in."""
    judged: int = 0
    seen: int = 1

    def predicted_centre(self, at: float) -> tuple[float, float]:
        x, y = self.face.centre
        elapsed = at - self.last_seen
        return x + self.velocity[0] * elapsed, y + self.velocity[1] * elapsed

    def vote(self, probabilities: np.ndarray) -> None:
        self.votes = self.votes + probabilities
        self.judged += 1

    @property
    def label(self) -> str:
        """The verdict so far: the class of the highest mean probability."""
        return CLASS_NAMES[int(self.votes.argmax())]

    @property
    def confidence(self) -> float:
        return float(self.votes.max() / self.judged) if self.judged else 0.0


@dataclass(frozen=True)
class Person:
    """A person who left the picture, with their one verdict."""

    label: str
    judged: int
    last_seen: float
    """When they were last seen: the minute they are counted in."""


class Tracker:
    """Matches each frame's faces to the people seen before; people unseen for LOST_AFTER seconds
    are over and handed back, with their verdict, by `update` or `finish`."""

    def __init__(self, lost_after: float = LOST_AFTER, min_judged: int = MIN_JUDGED) -> None:
        self.lost_after = lost_after
        self.min_judged = min_judged
        self.tracks: list[Track] = []
        self._ids = itertools.count(1)

    def update(
        self, faces: list[FaceBox], at: float, frame: tuple[int, int] | None = None
    ) -> tuple[list[Track], list[Person]]:
        """The track of each face (in `faces`' order, new tracks for new people) and the people
        who left before `at`. With the `frame`'s (width, height), a track whose face is predicted
        outside it has walked out, and is not taken for someone coming in at that edge."""
        gone = [track for track in self.tracks if at - track.last_seen > self.lost_after]
        self.tracks = [track for track in self.tracks if track not in gone]
        pairs = sorted(
            (cost, t, f)
            for t, track in enumerate(self.tracks)
            for f, face in enumerate(faces)
            if (cost := self._cost(track, face, at, frame)) is not None
        )
        matched: dict[int, Track] = {}
        taken: set[int] = set()
        for _, t, f in pairs:  # greedy, nearest first: a handful of faces needs no Hungarian method
            if t in taken or f in matched:
                continue
            taken.add(t)
            matched[f] = self._move(self.tracks[t], faces[f], at)
        for f, face in enumerate(faces):
            if f not in matched:
                matched[f] = Track(next(self._ids), face, at)
                self.tracks.append(matched[f])
        return [matched[f] for f in range(len(faces))], self._people(gone)

    def finish(self) -> list[Person]:
        """Everyone still in the picture, as if they left now: the end of a file, or a stop."""
        gone, self.tracks = self.tracks, []
        return self._people(gone)

    def _people(self, tracks: list[Track]) -> list[Person]:
        return [
            Person(track.label, track.judged, track.last_seen) for track in tracks if track.judged >= self.min_judged
        ]

    @staticmethod
    def _cost(track: Track, face: FaceBox, at: float, frame: tuple[int, int] | None) -> float | None:
        """How far `face` is from where `track` is expected, in the track's face widths; None
        when it is too far, too different in size, or the track has walked out of the frame."""
        if not 1 / MAX_GROWTH <= face.width / max(track.face.width, 1) <= MAX_GROWTH:
            return None
        px, py = track.predicted_centre(at)
        if frame is not None and not (0 <= px < frame[0] and 0 <= py < frame[1]):
            return None
        fx, fy = face.centre
        distance = float(np.hypot(fx - px, fy - py)) / max(track.face.width, 1)
        speed = MAX_SPEED if track.seen < 2 else SPEED_CHANGE
        return distance if distance <= MAX_JUMP + speed * min(at - track.last_seen, UNPREDICTED_FOR) else None

    @staticmethod
    def _move(track: Track, face: FaceBox, at: float) -> Track:
        elapsed = at - track.last_seen
        if elapsed > 0:
            (ox, oy), (nx, ny) = track.face.centre, face.centre
            # Half the new step, half the old speed: one jittery box does not throw the prediction.
            vx, vy = track.velocity
            track.velocity = (0.5 * vx + 0.5 * (nx - ox) / elapsed, 0.5 * vy + 0.5 * (ny - oy) / elapsed)
        track.face = face
        track.last_seen = at
        track.seen += 1
        return track
