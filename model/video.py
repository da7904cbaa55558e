"""Clips (video notes, videos, GIFs) in, verdicts out: decoding untrusted video, and judging it.

About eight frames spread over the clip are decoded and searched for faces; the sharpest of those
showing the largest face is judged like a photo and shown in the answer, and the verdict on one
face is voted by all of them (`predict_clip`).

Decoding goes through PyAV's FFmpeg, not the one inside OpenCV, because only PyAV passes options
to the decoders (docs/video.md, "The decoder", says what OpenCV's let through). Every clip is
read from memory, never from a file; recognised by its first bytes and opened with that one demuxer (no probing of
FFmpeg's hundreds of others); only the video codecs of phones and browsers are decoded, never
the sound; on one thread; and every decoder refuses a picture larger than MAX_SIDE x MAX_SIDE,
also one a stream switches to after its header (a 426 KB MP4 whose header says 480x480 took
600 MB more to decode with OpenCV's).

FFmpeg allocates while it opens a container, before any check of ours can run (an MP4 index that
claims 85 M samples took a gigabyte), so the bot never opens one itself: after a structural check
(`check_structure`), each clip is decoded in a process of its own, forked by a decoding server
(`model.clip_process`), under limits on memory, CPU time and open files, killed after
DECODER_SECONDS; a clip whose process fails is answered "I couldn't read this video"
(`decoded_frames`). The decoding is bounded by what it decodes, not what the header says: the
pixels of every frame decoded count against DECODE_BUDGET_PIXELS, and CPU_SECONDS of decoding
ends a clip.
"""

from __future__ import annotations

import bisect
import io
import json
import logging
import os
import re
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from model import CLASS_NAMES
from model.faces import FaceBox
from model.framing import analyse, grey, laplacian_variance, measure_light_and_focus
from model.images import MIN_SIDE, ImageError
from model.messages import N_, Message
from model.predictor import DECODE_SIDE, NoFaceFound, PhotoPrediction, Predictor
from model.preprocess import crop_square

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # PyAV (FFmpeg, 20 MB in memory) loads with the first clip, not at the bot's start
    import av

MAX_BYTES = 20 * 1024 * 1024
"""The Bot API serves files up to 20 MB."""
MAX_SECONDS = 60
MAX_SIDE = 1920
"""Full HD's long side; a phone's 4K clip reaches Telegram re-encoded smaller."""
MAX_FRAMES = 3600
"""60 s at 60 frames a second: a clip with more is thousands of tiny frames, refused after
counting its packets, before any is decoded."""
SAMPLES = 8
DECODE_BUDGET_PIXELS = 150_000_000
"""Pixels decoded for one clip at most, besides one key frame per sample (about 0.3 s of one
core for H.264): every frame of a 10 s 480 px video note, or a few frames after each key frame of a long
HD video, whose samples are then its key frames. Counted in the pixels of the frames decoded: a
header can claim 64 px before thousands of 1,920 px pictures."""
CPU_SECONDS = 2.0
"""A clip's decoding stops past this much CPU time (of its thread), and the clip is refused."""
DECODER_SECONDS = 20.0
"""Wall-clock time a clip's decoding process is given (it runs at a lower priority than the bot:
photos go first) before it is killed."""
LARGEST_FACE_SHARE = 0.8
"""Frames whose largest face is at least this share of the largest seen count as showing the
largest face; the sharpest of them is judged."""
CODECS = frozenset({"h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "gif"})
"""What phones, Telegram and browsers make; FFmpeg's other decoders never see a user's file."""
DECODER_OPTIONS = {
    "max_pixels": str(MAX_SIDE * MAX_SIDE),
    "codec_whitelist": ",".join(sorted(CODECS)),
    "threads": "1",
}
"""Options of every decoder opened for a clip: while the container is read (FFmpeg decodes a
few frames to learn the streams) and for the frames sampled. One thread: the bot decodes one
clip at a time beside two inference threads."""


class ClipError(ImageError):
    """A clip the bot cannot judge; `message` says why, for the user."""


class ClipTooBig(ClipError):
    pass


class ClipTooLong(ClipError):
    pass


class ClipTooLarge(ClipError):
    pass


class ClipTooSmall(ClipError):
    pass


class TooManyFrames(ClipError):
    pass


class EmptyClip(ClipError):
    pass


class NotAClip(ClipError):
    pass


class ClipTooSlow(ClipError):
    """Decoding took more than CPU_SECONDS."""


class ClipUnreadable(ClipError):
    """The clip's decoding process failed: out of memory, CPU time or wall-clock time, or killed."""


class NoFaceInClip(NoFaceFound):
    """No face in any frame sampled; `framing` is the sharpest frame's, for the tips."""


def check_limits(
    size: int | None = None, seconds: float | None = None, width: int | None = None, height: int | None = None
) -> None:
    """Refuse a clip over the limits, from what is known of it: first what Telegram's update
    declares (nothing is downloaded), then what the container says. Unknown facts pass."""
    if size is not None and size > MAX_BYTES:
        raise ClipTooBig(
            Message(
                N_(
                    "This video is {size} MB; I can check videos up to {limit} MB. Send a shorter clip, or a photo of your face."
                ),
                {"size": round(size / 1024 / 1024), "limit": MAX_BYTES // 1024 // 1024},
            )
        )
    if seconds is not None and seconds > MAX_SECONDS:
        raise ClipTooLong(
            Message(
                N_(
                    "This video is {seconds} s long; I can check videos up to {limit} s. Send a shorter clip, or a photo of your face."
                ),
                {"seconds": round(seconds), "limit": MAX_SECONDS},
            )
        )
    if width is None or height is None:
        return
    if max(width, height) > MAX_SIDE:
        raise ClipTooLarge(
            Message(
                N_(
                    "This video is {size} pixels; I can check videos up to {limit} pixels a side. Send a smaller one, or a photo of your face."
                ),
                {"size": f"{width}x{height}", "limit": MAX_SIDE},
            )
        )
    if min(width, height) < MIN_SIDE:
        raise ClipTooSmall(
            Message(
                N_(
                    "This video is only {size} pixels. Send a clip at least {min_side} pixels a side, or a photo of your face."
                ),
                {"size": f"{width}x{height}", "min_side": MIN_SIDE},
            )
        )


def _damaged() -> NotAClip:
    return NotAClip(
        Message(
            N_("This video seems to be damaged, or in a format I can't read. Send it again, or a photo of your face.")
        )
    )


def _too_slow() -> ClipTooSlow:
    return ClipTooSlow(
        Message(
            N_(
                "This video takes more work to decode than I can give one clip. Send a shorter or smaller clip, or a photo of your face."
            )
        )
    )


def _unreadable() -> ClipUnreadable:
    return ClipUnreadable(Message(N_("I couldn't read this video. Send a normal clip, or a photo of your face.")))


def _empty() -> EmptyClip:
    return EmptyClip(Message(N_("This video is empty. Send it again, or a photo of your face.")))


def container_format(head: bytes) -> str | None:
    """The demuxer for a clip's first bytes: MP4 and QuickTime (what Telegram sends), Matroska
    and WebM, GIF; None for anything else."""
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return "mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    return None


MAX_TRACKS = 8
"""A phone's clip has a video and a sound track, sometimes a few of metadata."""
MAX_TABLE_ENTRIES = 4_000_000
"""Entries of one MP4 sample table (a minute of 48 kHz sound stored sample by sample is 2.9 M);
FFmpeg's index takes 24 bytes for each sample claimed."""
MAX_EDITS = 1000
"""Entries of one MP4 edit list; a phone writes one or two."""
MAX_ELEMENTS_READ = 10_000
"""Boxes or elements `check_structure` reads at most (in the bot's process, holding the GIL):
a file of millions of empty boxes is left to the decoding process."""
_MP4_CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"})
_MP4_TABLES = {
    # box: where its entry count is (after the box's 8-byte header)
    b"stts": 4,
    b"ctts": 4,
    b"stss": 4,
    b"stsc": 4,
    b"stco": 4,
    b"co64": 4,
    b"stsz": 8,
    b"stz2": 8,
    b"elst": 4,
}


def check_structure(data: bytes) -> None:
    """Refuse, before FFmpeg sees it, a container whose structure alone would make it allocate
    for nothing: more than MAX_TRACKS tracks, an MP4 sample table claiming more than
    MAX_TABLE_ENTRIES entries, an edit list of more than MAX_EDITS. Reads the boxes and elements
    that say so, never the media; what it cannot parse is left to the decoding process."""
    fmt = container_format(data[:12])
    counts = _mp4_counts(data) if fmt == "mov" else _matroska_counts(data) if fmt == "matroska" else {}
    if (
        counts.get("tracks", 0) > MAX_TRACKS
        or counts.get("table", 0) > MAX_TABLE_ENTRIES
        or counts.get("edits", 0) > MAX_EDITS
    ):
        log.info("event=clip_structure_refused counts=%s", counts)
        raise _damaged()


def _mp4_counts(data: bytes) -> dict[str, int]:
    """The tracks, and the largest sample table and edit list, of an MP4's boxes."""
    counts = {"tracks": 0, "table": 0, "edits": 0}
    spans = [(0, len(data))]
    read = 0
    while spans:
        at, end = spans.pop()
        while at + 8 <= end and read < MAX_ELEMENTS_READ:
            read += 1
            size, kind = struct.unpack(">I4s", data[at : at + 8])
            header = 8
            if size == 1 and at + 16 <= end:  # a 64-bit size follows
                (size,) = struct.unpack(">Q", data[at + 8 : at + 16])
                header = 16
            elif size == 0:  # to the end
                size = end - at
            if size < header:
                break
            if kind in _MP4_CONTAINERS:
                spans.append((at + header, min(end, at + size)))
                counts["tracks"] += kind == b"trak"
            elif kind in _MP4_TABLES and at + header + _MP4_TABLES[kind] + 4 <= end:
                offset = at + header + _MP4_TABLES[kind]
                (entries,) = struct.unpack(">I", data[offset : offset + 4])
                name = "edits" if kind == b"elst" else "table"
                counts[name] = max(counts[name], entries)
            at += size
    return counts


_SEGMENT, _TRACKS, _TRACK_ENTRY, _CLUSTER = 0x18538067, 0x1654AE6B, 0xAE, 0x1F43B675


def _matroska_counts(data: bytes) -> dict[str, int]:
    """The tracks of a Matroska file: the entries of its Tracks elements, read up to its first
    cluster (where they come, before the media)."""
    tracks = 0
    at = 0
    end = len(data)
    read = 0
    while at < end and read < MAX_ELEMENTS_READ:
        read += 1
        element = _ebml_element(data, at)
        if element is None:
            break
        ident, start, size = element
        if ident == _SEGMENT:  # into it
            at = start
            continue
        if ident == _CLUSTER or size is None:
            break
        if ident == _TRACKS:
            inner = start
            while inner < min(end, start + size) and read < MAX_ELEMENTS_READ:
                read += 1
                entry = _ebml_element(data, inner)
                if entry is None or entry[2] is None:
                    break
                tracks += entry[0] == _TRACK_ENTRY
                inner = entry[1] + entry[2]
        at = start + size
    return {"tracks": tracks}


def _ebml_element(data: bytes, at: int) -> tuple[int, int, int | None] | None:
    """(id, where its content starts, its size or None when unknown) of the EBML element at `at`."""
    ident = _ebml_number(data, at, 4, keep_marker=True)
    if ident is None:
        return None
    size = _ebml_number(data, ident[1], 8, keep_marker=False)
    if size is None:
        return None
    unknown = size[0] == (1 << (7 * (size[1] - ident[1]))) - 1
    return ident[0], size[1], None if unknown else size[0]


def _ebml_number(data: bytes, at: int, longest: int, keep_marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length number at `at`, and where it ends."""
    if at >= len(data) or data[at] == 0:
        return None
    length = 8 - data[at].bit_length() + 1
    if length > longest or at + length > len(data):
        return None
    value = int.from_bytes(data[at : at + length], "big")
    if not keep_marker:
        value &= (1 << (7 * length)) - 1
    return value, at + length


@dataclass(frozen=True)
class _Plan:
    """What one pass over a clip's packets (no decoding) found."""

    stamps: list[int]
    """Every frame's presentation time stamp, ascending."""
    keys: list[int]
    """The key frames' stamps, ascending: where decoding can start."""


def sample_frames(data: bytes, count: int = SAMPLES) -> Iterator[np.ndarray]:
    """About `count` upright RGB frames spread over the clip, in order, each shrunk by a whole
    factor that keeps its short side at least DECODE_SIDE. Raises `ClipError` for a clip over
    the limits, damaged, in another format, without frames, or past CPU_SECONDS of decoding.

    This opens the clip in the calling process: the bot calls `decoded_frames` instead."""
    if not data:
        raise _empty()
    fmt = container_format(data[:12])
    if fmt is None:
        raise _damaged()
    import av

    deadline = time.thread_time() + CPU_SECONDS
    try:
        with av.open(io.BytesIO(data), "r", format=fmt, options=DECODER_OPTIONS) as container:
            if not container.streams.video:
                raise _empty()
            stream = container.streams.video[0]
            codec = stream.codec_context
            if codec is None or codec.codec.canonical_name not in CODECS or not codec.width or not codec.height:
                # No size: first bytes of one container before another's data (an MP4 that
                # starts as a GIF), not a picture too small.
                raise _damaged()
            check_limits(width=codec.width, height=codec.height)
            plan = _read_packets(container, stream, deadline)
            codec.options = DECODER_OPTIONS
            yield from _decode(container, stream, plan, count, deadline)
    except ClipError:
        raise
    except (av.FFmpegError, ValueError, OverflowError) as error:
        # FFmpeg's refusals (bad data, a picture over max_pixels, a codec not on the list) and
        # PyAV's on odd stamps or sizes all mean the same to the sender.
        raise _damaged() from error


def _check_time(deadline: float) -> None:
    if time.thread_time() > deadline:
        raise _too_slow()


def decoded_frames(data: bytes, count: int = SAMPLES) -> list[np.ndarray]:
    """`sample_frames`, run in a process of its own, forked for this clip by the decoding server
    (`model.clip_process`), under limits on memory, CPU time and open files: what FFmpeg
    allocates for a hostile clip is never the bot's. A clip whose process dies, or runs past
    DECODER_SECONDS and is killed, is `ClipUnreadable`; its refusals are raised here as they were
    there."""
    if not data:
        raise _empty()
    if container_format(data[:12]) is None:
        raise _damaged()
    check_structure(data)
    try:
        output, exit_code = _server.decode(data, count)
    except (OSError, ValueError, TimeoutError, EOFError) as error:
        log.warning("event=clip_decoder_failed reason=server error=%s", type(error).__name__)
        raise _unreadable() from error
    try:
        frames, refusal = _read_records(output)
    except (ValueError, KeyError, TypeError) as error:
        log.warning("event=clip_decoder_failed reason=output exit=%s", exit_code)
        raise _unreadable() from error
    if exit_code != 0:
        log.warning("event=clip_decoder_failed exit=%s", exit_code)
        raise _unreadable()
    if refusal is not None:
        raise refusal
    return frames


class _DecodingServer:
    """The decoding server (`model.clip_process`), started with the first clip and again whenever
    it is found dead; one clip at a time."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def decode(self, data: bytes, count: int) -> tuple[bytes, int]:
        """What the clip's process wrote, and its exit code."""
        with self._lock:
            if self.process is None or self.process.poll() is not None:
                self.process = _start_server()
            process = self.process
            assert process.stdin is not None and process.stdout is not None
            deadline = time.monotonic() + DECODER_SECONDS + SERVER_GRACE_SECONDS
            try:
                head = struct.pack(">II", count, round(DECODER_SECONDS * 1000))
                process.stdin.write(b"C" + struct.pack(">I", len(head) + len(data)) + head)
                process.stdin.write(data)
                process.stdin.flush()
                output = _read_record(process.stdout.fileno(), b"R", deadline)
                ended = json.loads(_read_record(process.stdout.fileno(), b"S", deadline))
            except (OSError, ValueError, TimeoutError, EOFError):
                process.kill()  # a server that hangs, dies or speaks nonsense is replaced
                process.wait()
                self.process = None
                raise
            return output, int(ended["exit"])


SERVER_GRACE_SECONDS = 10.0
"""Past a clip's own wall-clock limit, how long the server has to answer before it is replaced."""
_server = _DecodingServer()


def _start_server() -> subprocess.Popen:
    # Nothing of the bot's environment (its token, its database) goes to the processes that open
    # untrusted files: only where to find this package, and one thread for NumPy's libraries.
    environment = {
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "model.clip_process"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=environment
    )


MAX_ANSWER_BYTES = 64 * 1024 * 1024
"""What a clip's process may send back (`model.clip_process.MAX_OUTPUT_BYTES`): eight frames take
at most 10 MB."""


def _read_record(fd: int, tag: bytes, deadline: float) -> bytes:
    head = _read_exactly(fd, 5, deadline)
    (size,) = struct.unpack(">I", head[1:])
    if head[:1] != tag or size > MAX_ANSWER_BYTES:
        raise ValueError(f"expected a {tag!r} record, got {head[:1]!r} of {size} bytes")
    return _read_exactly(fd, size, deadline)


def _read_exactly(fd: int, size: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise TimeoutError("the decoding server did not answer")
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the decoding server exited")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_records(output: bytes) -> tuple[list[np.ndarray], ClipError | None]:
    """The frames and the refusal a clip's process wrote (`model.clip_process`)."""
    frames: list[np.ndarray] = []
    refusal: ClipError | None = None
    at = 0
    while at < len(output):
        tag = output[at : at + 1]
        size = int.from_bytes(output[at + 1 : at + 5], "big")
        payload = output[at + 5 : at + 5 + size]
        if len(output) < at + 5 or len(payload) != size:
            raise ValueError("a record cut short")
        at += 5 + size
        if tag == b"F":
            frames.append(np.load(io.BytesIO(payload), allow_pickle=False))
        elif tag == b"E":
            refused = json.loads(payload)
            kind = globals().get(refused["kind"])
            if not (isinstance(kind, type) and issubclass(kind, ClipError)):
                raise ValueError(f"not a refusal: {refused['kind']}")
            template, values = str(refused["template"]), dict(refused["values"])
            # The text is formatted in the bot: only plain {name} fields, nothing str.format
            # would look up or pad.
            fields = re.findall(r"\{([^{}]*)\}", template)
            if not all(re.fullmatch(r"[a-z_]+", field) and field in values for field in fields):
                raise ValueError("a refusal's template with fields other than names")
            refusal = kind(Message(template, values))
        else:
            raise ValueError(f"an unknown record {tag!r}")
    return frames, refusal


def _read_packets(container: av.container.InputContainer, stream: av.VideoStream, deadline: float) -> _Plan:
    """Count the frames and note the key frames, reading packets without decoding them."""
    stamps: list[int] = []
    keys: list[int] = []
    frames = 0
    for packet in container.demux(stream):
        if packet.size == 0:  # the empty packet that ends every stream
            continue
        frames += 1
        if frames > MAX_FRAMES:
            raise TooManyFrames(
                Message(
                    N_(
                        "This video has more than {limit} frames, more than I can look through. Send a normal clip, or a photo of your face."
                    ),
                    {"limit": MAX_FRAMES},
                )
            )
        if frames % 64 == 0:
            _check_time(deadline)
        if packet.pts is not None:
            stamps.append(packet.pts)
            if packet.is_keyframe:
                keys.append(packet.pts)
    if not frames:
        raise _empty()
    if not keys:
        raise _damaged()
    stamps.sort()
    keys.sort()
    if stream.time_base is not None:
        check_limits(seconds=float((stamps[-1] - stamps[0]) * stream.time_base))
    return _Plan(stamps, keys)


def _decode(
    container: av.container.InputContainer, stream: av.VideoStream, plan: _Plan, count: int, deadline: float
) -> Iterator[np.ndarray]:
    """The frames nearest `count` evenly spaced times. Reaching one means decoding on from the
    frame decoded last, or from the key frame before it; when the frames on the way would take
    the decoding budget past its end, a sample is that key frame instead, and only key frames
    are decoded to reach it (`skip_frame`). The budget counts the pixels of every frame decoded;
    the frames still to decode are reckoned at the largest picture decoded yet, and when they
    prove larger, the budget's end on the way to a sample makes the frame reached the sample.
    Samples are in order: a key frame before the last sample is not taken."""
    import av

    codec = stream.codec_context
    stamps = plan.stamps
    targets = sorted({stamps[min(len(stamps) - 1, int((i + 0.5) * len(stamps) / count))] for i in range(count)})
    left = DECODE_BUDGET_PIXELS
    largest = max(1, codec.width * codec.height)
    frames: Iterator[av.VideoFrame] | None = None
    position: int | None = None
    """The stamp of the frame decoded last: decoding goes on from there without a seek."""
    taken: set[int] = set()
    last: int | None = None
    """The stamp of the frame yielded last: samples never go back before it."""
    for wanted in targets:
        key = plan.keys[max(0, bisect.bisect_right(plan.keys, wanted) - 1)]
        if frames is not None and position is not None and key <= position < wanted:
            resume, after = True, bisect.bisect_right(stamps, position)
        else:
            resume, after = False, bisect.bisect_left(stamps, key)
        target = wanted
        if (bisect.bisect_right(stamps, wanted) - after) * largest > left:
            target, resume = key, False
        if target in taken or (target != wanted and last is not None and target <= last):
            continue
        keys_only = False
        if not resume or frames is None:
            keys_only = target == key
            codec.skip_frame = "NONKEY" if keys_only else "DEFAULT"
            container.seek(key, stream=stream, backward=True, any_frame=False)
            frames = container.decode(stream)
        try:
            for frame in frames:
                # Every picture decoded, not only those kept, is held to the limits and counted.
                check_limits(width=frame.width, height=frame.height)
                left -= frame.width * frame.height
                largest = max(largest, frame.width * frame.height)
                _check_time(deadline)
                if left < -count * MAX_SIDE * MAX_SIDE:
                    return  # past one key frame a sample: stamps that never reach the target
                position = frame.pts
                # Out of budget on the way (the pictures were larger than reckoned), the frame
                # reached is the sample.
                if frame.pts is None or frame.pts >= target or (left < 0 and not keys_only):
                    taken.add(target)
                    last = frame.pts
                    yield _upright(frame)
                    break
            else:
                return  # the clip ended before the target: its last packets held no picture
        except av.FFmpegError:
            # A damaged stretch, or a picture over max_pixels the decoder refused: the frames
            # before it are judged (none: the clip is refused as damaged).
            return
        if keys_only:
            frames = None  # the decoder skipped what followed the key frame: seek for the next


def _upright(frame: av.VideoFrame) -> np.ndarray:
    """RGB, shrunk like a photo (model.images.shrink), turned as the clip says it is shown."""
    # max_pixels bounds a picture's area; a long thin one within it is refused here.
    check_limits(width=frame.width, height=frame.height)
    factor = max(1, min(frame.width, frame.height) // DECODE_SIDE)
    rgb = frame.to_ndarray(
        format="rgb24", width=frame.width // factor, height=frame.height // factor, interpolation="AREA"
    )
    # The display matrix turns the picture counter-clockwise by `rotation` degrees (a phone held
    # upright records its sensor's sideways picture).
    return np.ascontiguousarray(np.rot90(rgb, round(frame.rotation / 90) % 4))


@dataclass(frozen=True)
class _Candidate:
    pixels: np.ndarray
    face_share: float
    """The largest face's short side over the frame's."""
    face_sharpness: float


@dataclass(frozen=True)
class Choice:
    frame: np.ndarray
    """The frame judged and shown: of the sampled frames showing the largest face (within
    LARGEST_FACE_SHARE of it), the one where that face is sharpest."""
    faces: np.ndarray
    """(frames, 128, 128, 3): the largest face of every sampled frame that shows one, cropped as
    the classifier takes it: what a verdict is voted from."""


def face_sharpness(rgb: np.ndarray, face: FaceBox) -> float:
    """Variance of the Laplacian on the face's crop as the classifier sees it: the motion blur
    and compression of a frame show where the verdict is made, whatever the background."""
    return laplacian_variance(grey(crop_square(rgb, face)))


def choose(data: bytes, find_faces: Callable[[np.ndarray], list[FaceBox]]) -> Choice:
    """Search the sampled frames for faces, and choose the frame to judge. Raises `ClipError`,
    or `NoFaceInClip` when no sampled frame shows a face."""
    candidates: list[_Candidate] = []
    crops: list[np.ndarray] = []
    sharpest: tuple[float, np.ndarray] | None = None
    """The sharpest frame overall, for the tips when no frame shows a face."""
    for rgb in decoded_frames(data):
        faces = find_faces(rgb)
        if faces:
            share = faces[0].side / min(rgb.shape[:2])
            candidates.append(_Candidate(rgb, share, face_sharpness(rgb, faces[0])))
            crops.append(crop_square(rgb, faces[0]))
        elif not candidates:
            sharpness = measure_light_and_focus(rgb)[2]
            if sharpest is None or sharpness > sharpest[0]:
                sharpest = (sharpness, rgb)
    if not candidates:
        if sharpest is None:
            raise _damaged()  # frames were listed, none could be decoded
        raise NoFaceInClip(
            analyse(sharpest[1], None),
            Message(
                N_("I can't find a face in this video. Film your whole face, looking at the camera, in good light.")
            ),
        )
    largest = max(candidate.face_share for candidate in candidates)
    shown = [candidate for candidate in candidates if candidate.face_share >= LARGEST_FACE_SHARE * largest]
    return Choice(max(shown, key=lambda candidate: candidate.face_sharpness).pixels, np.stack(crops))


def predict_clip(data: bytes, predictor: Predictor) -> PhotoPrediction:
    """A clip judged. Its chosen frame goes through the photo path (handed over as a lossless
    BMP), so every face in it is found, judged and boxed as in a photo; when that frame shows one
    face to judge, the verdict is voted instead: the mean of the calibrated probabilities of the
    largest face in every sampled frame (docs/video.md, "Vote or one frame": it measured
    better than the one frame's verdict). The vote is not taken for a group of faces: the largest
    face of one frame may be another person's in the next; it is for a main face with people far
    behind (`PhotoPrediction.main_face`), whose other faces keep their frame's verdicts."""
    choice = choose(data, predictor.detector.faces)
    photo = predictor.predict_photo(encode_bmp(choice.frame))
    if photo.is_group:
        return photo
    mean = predictor.probabilities(choice.faces).mean(axis=0)
    best = int(mean.argmax())
    voted = replace(
        photo.faces[0],
        label=CLASS_NAMES[best],
        confidence=float(mean[best]),
        probabilities={name: float(value) for name, value in zip(CLASS_NAMES, mean, strict=True)},
        unsure=bool(mean[best] < predictor.threshold),
    )
    return replace(photo, faces=(voted, *photo.faces[1:]))


def encode_bmp(rgb: np.ndarray) -> bytes:
    """An RGB frame as a BMP: nothing to compress, nothing lost on the way to the photo path."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, "BMP")
    return buffer.getvalue()
