"""Clips made for the tests and benchmarks: plain coded ones, photos filmed by a moving phone, and the hostile ones of the hardening
issue (a "resize bomb", MP4 indexes and edit lists claiming millions of entries, a Matroska file
with hundreds of tracks). All are small to make; the bombs cost only whoever decodes them."""

from __future__ import annotations

import io
import struct
from fractions import Fraction
from typing import Literal

import av
import numpy as np
from PIL import Image


def coded_clip(
    frames: int, size: tuple[int, int] = (64, 64), fps: int = 10, codec: Literal["mpeg4", "libx264"] = "mpeg4"
) -> bytes:
    """Flat grey frames whose brightness is their number times 3, which tells which frame a
    sample is; a key frame every 12 frames (no extra ones where the grey changes)."""
    output = io.BytesIO()
    with av.open(output, "w", format="mp4") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.codec_context.gop_size = 12
        stream.codec_context.options = {"sc_threshold": "1000000000"}
        container.start_encoding()  # the header, also of a clip without frames
        for index in range(frames):
            grey = np.full((size[1], size[0], 3), min(255, index * 3), np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(grey, format="rgb24")))
        container.mux(stream.encode(None))
    return output.getvalue()


def panned_clip(
    picture: np.ndarray,
    size: tuple[int, int] = (480, 480),
    seconds: float = 3.0,
    fps: int = 10,
    zoom: float = 1.5,
    blurred: float = 0.0,
    seed: int = 0,
    codec: Literal["mpeg4", "libx264"] = "mpeg4",
) -> bytes:
    """An MP4 clip of an RGB `picture` filmed by a moving phone: zooming in by `zoom` and panning
    across it over `seconds`, a share `blurred` of its frames smeared by shaking. MPEG-4 by
    default, quick to write; "libx264" for H.264, what phones and Telegram send."""
    rng = np.random.default_rng(seed)
    width, height = size
    frames = max(1, round(seconds * fps))
    # The picture filling the frame at zoom 1, cropped to the frame's shape around its centre.
    base = max(width / picture.shape[1], height / picture.shape[0])
    pan = rng.choice([-1, 1]) * 0.1
    source = Image.fromarray(picture)
    output = io.BytesIO()
    with av.open(output, "w", format="mp4") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(frames):
            progress = index / max(1, frames - 1)
            scale = base * (1 + (zoom - 1) * progress)
            scaled_size = (round(picture.shape[1] * scale), round(picture.shape[0] * scale))
            scaled = np.asarray(source.resize(scaled_size, Image.Resampling.BILINEAR))
            room_x, room_y = scaled.shape[1] - width, scaled.shape[0] - height
            left = round(room_x / 2 + pan * (progress - 0.5) * scaled.shape[1])
            left, top = min(max(left, 0), room_x), room_y // 2
            frame = np.ascontiguousarray(scaled[top : top + height, left : left + width])
            if rng.random() < blurred:
                frame = shaken(frame, int(rng.integers(9, 25)))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
    return output.getvalue()


def shaken(frame: np.ndarray, width: int) -> np.ndarray:
    """`frame` smeared sideways as by a shaking phone: each pixel the mean of the `width` pixels
    around it in its row (mirrored at the edges)."""
    before = width // 2
    padded = np.pad(frame.astype(np.float64), ((0, 0), (before, width - 1 - before), (0, 0)), mode="reflect")
    sums = np.concatenate([np.zeros_like(padded[:, :1]), np.cumsum(padded, axis=1)], axis=1)
    return np.rint((sums[:, width:] - sums[:, :-width]) / width).astype(np.uint8)


def resize_bomb(header_side: int = 64, side: int = 1920, frames: int = 3598, head: int = 2) -> bytes:
    """An H.264 MP4 whose header (and first `head` frames) say `header_side` pixels, then
    `frames` pictures of `side` pixels, one key frame among them: each picture is cheap to store
    (half a row of noise in grey) and costs a full `side` x `side` picture to decode."""
    stream_bytes = b""
    rng = np.random.default_rng(0)
    for picture_side, count in ((header_side, head), (side, frames)):
        codec = av.CodecContext.create("libx264", "w")
        codec.width = codec.height = picture_side
        codec.pix_fmt = "yuv420p"
        codec.time_base = Fraction(1, 60)
        codec.gop_size = 100_000
        codec.options = {"x264-params": "repeat-headers=1:keyint=100000:scenecut=0", "preset": "ultrafast"}
        picture = np.full((picture_side, picture_side, 3), 90, np.uint8)
        for index in range(count):
            picture[:1, : picture_side // 2] = rng.integers(0, 255, (1, picture_side // 2, 3), np.uint8)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            stream_bytes += b"".join(bytes(packet) for packet in codec.encode(frame))
        stream_bytes += b"".join(bytes(packet) for packet in codec.encode(None))
    return h264_in_mp4(stream_bytes, fps=60)


def h264_in_mp4(stream_bytes: bytes, fps: int) -> bytes:
    """An H.264 stream's packets in an MP4, one frame every 1/`fps` s, as they are: the sizes
    the stream changes to halfway stay where the header cannot tell them."""
    output = io.BytesIO()
    with av.open(io.BytesIO(stream_bytes), "r", format="h264") as source, av.open(output, "w", format="mp4") as target:
        stream = target.add_stream_from_template(source.streams.video[0])
        stream.time_base = Fraction(1, fps)
        for index, packet in enumerate(p for p in source.demux(source.streams.video[0]) if p.size):
            packet.stream, packet.pts, packet.dts, packet.time_base = stream, index, index, Fraction(1, fps)
            target.mux(packet)
    return output.getvalue()


def boxes(data: bytes, start: int = 0, end: int | None = None):
    """(type, start, end) of each MP4 box from `start` to `end`, and of the boxes inside the
    containers on the way to a sample table."""
    end = len(data) if end is None else end
    while start + 8 <= end:
        size, kind = struct.unpack(">I4s", data[start : start + 8])
        yield kind, start, start + size
        if kind in (b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"):
            yield from boxes(data, start + 8, start + size)
        start += size


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _grow(data: bytes, at: int, added: bytes) -> bytes:
    """`added` inserted at `at`, every box around it made that much larger."""
    out = bytearray(data[:at] + added + data[at:])
    for kind, start, end in boxes(data):
        if start < at < end or (kind in (b"moov", b"trak") and start < at <= end):
            size = struct.unpack(">I", out[start : start + 4])[0]
            out[start : start + 4] = struct.pack(">I", size + len(added))
    return bytes(out)


def sample_table_bomb(samples: int = 85_000_000, tracks: int = 1) -> bytes:
    """A tiny MP4 whose sample tables claim `samples` samples of one byte (a constant size, so no
    table follows), in each of `tracks` video tracks: the demuxer sizes its index from the claim."""
    data = bytearray(coded_clip(3, (64, 64)))
    for kind, start, _ in list(boxes(bytes(data))):
        if kind == b"stsz":  # version and flags, sample size, sample count
            data[start + 12 : start + 20] = struct.pack(">II", 1, samples)
        elif kind == b"stts":  # version and flags, entries, then (count, delta) pairs
            data[start + 16 : start + 20] = struct.pack(">I", samples)
    result = bytes(data)
    for _ in range(tracks - 1):
        trak = next((start, end) for kind, start, end in boxes(result) if kind == b"trak")
        moov_end = next(end for kind, _, end in boxes(result) if kind == b"moov")
        result = _grow(result, moov_end, result[trak[0] : trak[1]])
    return result


def edit_list_bomb(entries: int = 1_600_000, frames: int = 30) -> bytes:
    """An MP4 whose video track has an edit list of `entries` entries (12 bytes each), each
    playing the whole track again: the demuxer's index is rebuilt with every frame once an edit."""
    data = coded_clip(frames, (64, 64))
    movie_scale = next(
        struct.unpack(">I", data[start + 20 : start + 24])[0] for kind, start, _ in boxes(data) if kind == b"mvhd"
    )
    whole = movie_scale * frames // 10
    elst = _box(b"elst", struct.pack(">II", 0, entries) + struct.pack(">IiI", whole, 0, 0x10000) * entries)
    trak_header_end = next(end for kind, _, end in boxes(data) if kind == b"tkhd")
    return _grow(data, trak_header_end, _box(b"edts", elst))


def many_tracks_mkv(tracks: int = 300, side: int = 1920) -> bytes:
    """A Matroska file with `tracks` video tracks of `side` pixels, the same two frames in each:
    FFmpeg opens a decoder, and its picture buffers, for every track it reads."""
    encoder = av.CodecContext.create("mpeg4", "w")
    encoder.width = encoder.height = side
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = Fraction(1, 10)
    frame = av.VideoFrame.from_ndarray(np.full((side, side, 3), 90, np.uint8), format="rgb24")
    packets = [bytes(packet) for index in range(2) for packet in encoder.encode(_at(frame, index))]
    packets += [bytes(packet) for packet in encoder.encode(None)]
    output = io.BytesIO()
    with av.open(output, "w", format="matroska") as container:
        streams = []
        for _ in range(tracks):
            stream = container.add_stream("mpeg4", rate=10)
            stream.width = stream.height = side
            stream.pix_fmt = "yuv420p"
            stream.codec_context.extradata = encoder.extradata
            streams.append(stream)
        for stream in streams:
            for index, payload in enumerate(packets):
                packet = av.Packet(payload)
                packet.stream, packet.pts, packet.dts, packet.time_base = stream, index, index, Fraction(1, 10)
                packet.is_keyframe = index == 0
                container.mux(packet)
    return output.getvalue()


def _at(frame: av.VideoFrame, pts: int) -> av.VideoFrame:
    frame.pts = pts
    return frame


def attack_set() -> dict[str, bytes]:
    """The hostile clips of the hardening issue's item 2, by name."""
    return {
        "index claims 85 M samples": sample_table_bomb(),
        "the same with two tracks": sample_table_bomb(tracks=2),
        "1.6 M edit-list entries": edit_list_bomb(),
        "300 video tracks (MKV)": many_tracks_mkv(),
    }
