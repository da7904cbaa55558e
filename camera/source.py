"""A camera's pictures, sampled: a video file, an RTSP or HTTP(S) (MJPEG) stream, or a local device,
all opened with PyAV.

A reader thread decodes and samples; the watcher takes the newest sample. A live source that
sends faster than the watcher judges loses the samples in between, never queues them; a file waits
for the watcher, so a recording is judged whole. A stream that drops is opened again with growing
waits (logged once per outage), and a read that hangs ends at READ_TIMEOUT inside FFmpeg.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

log = logging.getLogger("camera.source")

OPEN_TIMEOUT = 10.0
READ_TIMEOUT = 10.0
"""Seconds FFmpeg waits on a network read before giving up (its interrupt callback, which PyAV
sets from `av.open`'s `timeout`): a camera that stops sending is noticed, not waited on forever."""
RETRY_WAITS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
"""Waits before each new try at a lost stream; the last repeats."""
MAX_SIDE = 1920
"""Frames are judged at no more than this on their longer side; larger frames are refused, as clips'."""
LIVE_PREFIXES = ("rtsp://", "rtsps://", "http://", "https://", "/dev/")


class SourceError(RuntimeError):
    """A source that cannot be opened or read; the message is one line for the operator."""


def is_live(source: str) -> bool:
    return source.startswith(LIVE_PREFIXES)


def describe(source: str) -> str:
    """The source as it may be logged: a camera's address without its user and password."""
    if "://" in source and "@" in source.split("://", 1)[1].split("/", 1)[0]:
        scheme, rest = source.split("://", 1)
        return f"{scheme}://…@{rest.split('@', 1)[1]}"
    return source


def open_container(source: str) -> av.container.InputContainer:
    """The source opened, or `SourceError` saying why in one line."""
    options: dict[str, str] = {}
    fmt: str | None = None
    if source.startswith(("rtsp://", "rtsps://")):
        options["rtsp_transport"] = "tcp"  # no lost UDP packets smearing the picture
    elif source.startswith("/dev/"):
        fmt = "v4l2"
    elif not is_live(source) and not Path(source).is_file():
        raise SourceError(f"{source} is not a file, nor an rtsp://, http(s):// or /dev/ address")
    try:
        container = av.open(source, format=fmt, options=options, timeout=(OPEN_TIMEOUT, READ_TIMEOUT))
    except (av.FFmpegError, OSError) as error:
        raise SourceError(f"cannot open {describe(source)}: {_reason(error)}") from None
    if not container.streams.video:
        container.close()
        raise SourceError(f"{describe(source)} has no video")
    return container


def _reason(error: Exception) -> str:
    return str(getattr(error, "strerror", None) or error).splitlines()[0]


@dataclass(frozen=True)
class Sample:
    pixels: np.ndarray
    """Upright RGB."""
    at: float
    """Seconds since the watcher started: the stream's own clock for a file, the wall clock for
    a live source (what the counts' minutes are taken from)."""


def sampled(container: av.container.InputContainer, fps: float, clock_start: float | None) -> Iterator[Sample]:
    """Samples `fps` frames a second of the container's first video stream. Frames of codecs made
    of key frames only (MJPEG) that fall between samples are not decoded at all; other codecs
    (H.264) skip their non-reference frames, which no other frame needs.

    `clock_start` (a `time.monotonic()`) makes it a live source's sampler, timed by when frames
    arrive; without it, a file's, timed by the stream's own timestamps."""
    stream = container.streams.video[0]
    intra_only = stream.codec_context.codec.intra_only
    if not intra_only:
        stream.codec_context.skip_frame = "NONREF"
    step = 1.0 / fps
    early = step / 4
    """A frame this much before its sample's time is taken: the stream's own rate rarely divides evenly."""
    next_at = 0.0
    first: list[float] = []

    def clock(pts: int | None) -> float | None:
        if clock_start is not None:
            return time.monotonic() - clock_start
        if pts is None or stream.time_base is None:
            return None
        if not first:
            first.append(float(pts * stream.time_base))
        return float(pts * stream.time_base) - first[0]

    for packet in container.demux(stream):
        if intra_only and packet.size:
            at = clock(packet.pts)
            if at is not None and at < next_at - early:
                continue  # not decoded at all
        for frame in packet.decode():
            at = clock(frame.pts)
            if at is None or at < next_at - early:
                continue
            next_at = max(next_at + step, at + step - early)
            if max(frame.width, frame.height) > MAX_SIDE:
                frame = frame.reformat(*_fit(frame.width, frame.height))
            yield Sample(frame.to_ndarray(format="rgb24"), at)


def _fit(width: int, height: int) -> tuple[int, int]:
    scale = MAX_SIDE / max(width, height)
    return max(2, round(width * scale)) // 2 * 2, max(2, round(height * scale)) // 2 * 2


class Reader:
    """Reads a source on a thread of its own and hands its samples over: `next()` gives the newest
    (a live source) or the next (a file) sample. A live source is opened again, with waits, when
    it drops; a file ends."""

    def __init__(self, source: str, fps: float, stop: threading.Event) -> None:
        self.source = source
        self.fps = fps
        self.live = is_live(source)
        self.stop = stop
        self.started = time.monotonic()
        self._condition = threading.Condition()
        self._latest: Sample | None = None
        self._ended = False
        self.failure: SourceError | None = None
        """Why a file could not be read, or why a live source could not be opened the first time."""
        self.dropped = 0
        """Samples replaced by a newer one before the judge took them."""
        self.connected = False
        """Whether a live source is open now: a stall is only a stall while it is."""
        self.last_sample = time.monotonic()
        """When the last sample came: the watcher's stall check reads it."""
        self.generation = 0
        self._thread = threading.Thread(target=self._run, name="camera-reader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def next(self, timeout: float) -> Sample | None:
        """The next sample, or None when the source ended (`ended`) or none came within `timeout`."""
        with self._condition:
            self._condition.wait_for(lambda: self._latest is not None or self._ended or self.stop.is_set(), timeout)
            sample, self._latest = self._latest, None
            self._condition.notify_all()
            return sample

    @property
    def ended(self) -> bool:
        with self._condition:
            return self._ended and self._latest is None

    def restart(self) -> None:
        """Abandon a reader that stopped giving samples and open the source again: its thread ends
        at its next read (READ_TIMEOUT), a decoder stuck for good leaves a daemon thread behind."""
        self.generation += 1
        self.last_sample = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="camera-reader", daemon=True)
        self._thread.start()

    def _put(self, sample: Sample, generation: int) -> bool:
        with self._condition:
            if not self.live:  # a file waits for the watcher: every sample is judged
                self._condition.wait_for(lambda: self._latest is None or self.stop.is_set())
            if self.stop.is_set() or generation != self.generation:
                return False
            if self._latest is not None:  # the judge is behind: the older sample goes unjudged
                self.dropped += 1
            self._latest = sample
            self.last_sample = time.monotonic()
            self._condition.notify_all()
            return True

    def _finish(self, failure: SourceError | None = None) -> None:
        with self._condition:
            self.failure = failure
            self._ended = True
            self._condition.notify_all()

    def _run(self) -> None:
        generation = self.generation
        if not self.live:
            try:
                with open_container(self.source) as container:
                    for sample in sampled(container, self.fps, None):
                        if not self._put(sample, generation):
                            return
            except SourceError as error:
                self._finish(error)
                return
            except av.FFmpegError as error:
                self._finish(SourceError(f"{describe(self.source)} could not be read to the end: {_reason(error)}"))
                return
            self._finish()
            return
        self._follow(generation)

    def _follow(self, generation: int) -> None:
        """A live source, opened again and again until the watcher stops."""
        tries = 0
        lost_since: float | None = None
        opened = False
        while not self.stop.is_set() and generation == self.generation:
            try:
                with open_container(self.source) as container:
                    opened = self.connected = True
                    if lost_since is not None:
                        log.info(
                            "event=source_back camera_source=%s after_s=%.0f",
                            describe(self.source),
                            time.monotonic() - lost_since,
                        )
                        lost_since = None
                    tries = 0
                    for sample in sampled(container, self.fps, self.started):
                        if not self._put(sample, generation):
                            return
                reason = "the stream ended"
            except SourceError as error:
                if not opened:  # a wrong address or a camera not there: the operator's one line
                    self._finish(error)
                    return
                reason = str(error)
            except av.FFmpegError as error:
                reason = _reason(error)
            if generation != self.generation:  # abandoned for a stall: its successor reports
                return
            self.connected = False
            if lost_since is None:  # once per outage, not per try
                lost_since = time.monotonic()
                log.warning("event=source_lost camera_source=%s reason=%r", describe(self.source), reason)
            self.stop.wait(RETRY_WAITS[min(tries, len(RETRY_WAITS) - 1)])
            tries += 1
