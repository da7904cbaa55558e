"""A camera's picture made for the tests: face photos walking across a background, each entering
and leaving at a known time, as an H.264 file (what an IP camera's RTSP serves) or as JPEG frames
(what an MJPEG camera serves); and a small MJPEG camera on 127.0.0.1 that can drop its viewers."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import numpy as np
from PIL import Image

from model.faces import process_detector
from tests.support import shared_data_folder

SIZE = (1280, 720)
FACE_SIDE = 200


@dataclass(frozen=True)
class Walker:
    face: np.ndarray
    """An RGB close-up of a face, FACE_SIDE pixels square."""
    enter: float
    leave: float
    """Seconds into the clip."""
    top: int
    rightwards: bool = True


def close_ups(label: str, count: int) -> list[np.ndarray]:
    """The first `count` close-ups of the shared data's masks3 `label` folder, FACE_SIDE square,
    whose one face fills most of the picture and is found surely: people walking past the camera,
    not a stock photo's small face in a large margin."""
    detector = process_detector()
    chosen = []
    for path in sorted((shared_data_folder() / "masks3" / label).glob("*.jpg")):
        pixels = np.asarray(Image.open(path).convert("RGB").resize((FACE_SIDE, FACE_SIDE)))
        found = detector.faces(pixels)
        if len(found) == 1 and found[0].side >= FACE_SIDE // 3 and found[0].score >= 0.9:
            chosen.append(pixels)
        if len(chosen) == count:
            return chosen
    raise AssertionError(f"fewer than {count} clear close-ups in masks3/{label}")


def background(size: tuple[int, int] = SIZE) -> np.ndarray:
    """A still corridor: a gradient with a little noise, the same in every frame."""
    rng = np.random.default_rng(7)
    width, height = size
    gradient = np.linspace(60, 190, width, dtype=np.float32)[None, :, None] + rng.normal(0, 8, (height, width, 3))
    return np.clip(gradient, 0, 255).astype(np.uint8)


def frames(walkers: list[Walker], seconds: float, fps: int = 10, size: tuple[int, int] = SIZE) -> Iterator[np.ndarray]:
    """Every frame of the clip: each walker crosses the whole width between `enter` and `leave`."""
    still = background(size)
    for index in range(round(seconds * fps)):
        yield frame_at(walkers, index / fps, still)


def frame_at(walkers: list[Walker], at: float, still: np.ndarray) -> np.ndarray:
    """The clip's frame `at` seconds in, on the background `still`."""
    canvas = still.copy()
    width = still.shape[1]
    for walker in walkers:
        if walker.enter <= at < walker.leave:
            progress = (at - walker.enter) / (walker.leave - walker.enter)
            if not walker.rightwards:
                progress = 1 - progress
            left = round(progress * (width - FACE_SIDE))
            canvas[walker.top : walker.top + FACE_SIDE, left : left + FACE_SIDE] = walker.face
    return canvas


def h264_file(path: Path, walkers: list[Walker], seconds: float, fps: int = 10) -> Path:
    """The clip as an H.264 MP4, a key frame every two seconds, as IP cameras send."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        stream.codec_context.gop_size = 2 * fps
        stream.codec_context.options = {"preset": "ultrafast", "tune": "zerolatency"}
        for pixels in frames(walkers, seconds, fps):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def jpegs(walkers: list[Walker], seconds: float, fps: int = 10) -> list[bytes]:
    encoded = []
    for pixels in frames(walkers, seconds, fps):
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "JPEG", quality=85)
        encoded.append(buffer.getvalue())
    return encoded


class MjpegCamera:
    """A cheap camera's MJPEG stream over HTTP on 127.0.0.1: the frames at `fps`, then the stream
    ends. `cut_after` frames into the first connection, the connection is cut (a camera dropping),
    and the next connection resumes from there."""

    def __init__(
        self,
        frames: list[bytes],
        fps: int,
        cut_after: int | None = None,
        stall_after: int | None = None,
        loops: int = 1,
    ) -> None:
        self.frames = frames * loops
        """`loops` times the frames: a benchmark's long stream without its memory growing."""
        self.fps = fps
        self.cut_after = cut_after
        self.stall_after = stall_after
        """Frames into the first connection after which it stays open and sends nothing more: a
        camera whose picture froze."""
        self.closed = threading.Event()
        self.position = 0
        self.connections = 0
        self.streams = 0
        """Connections that got frames: the camera answers any number after its last frame."""
        self.sent_at: list[float] = []
        """When each frame went out (time.monotonic()): when the people in it were seen."""
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                camera.connections += 1
                first = camera.connections == 1
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace;boundary=camera")
                self.end_headers()
                if camera.position < len(camera.frames):
                    camera.streams += 1
                while camera.position < len(camera.frames):
                    if first and camera.cut_after is not None and camera.position >= camera.cut_after:
                        self.connection.shutdown(socket.SHUT_RDWR)  # cut mid-stream, no goodbye
                        return
                    if first and camera.stall_after is not None and camera.position >= camera.stall_after:
                        camera.closed.wait()  # connected, silent, until the camera is switched off
                        return
                    jpeg = camera.frames[camera.position]
                    try:
                        self.wfile.write(
                            b"--camera\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg)
                            + jpeg
                            + b"\r\n"
                        )
                    except OSError:
                        return
                    camera.sent_at.append(time.monotonic())
                    camera.position += 1
                    # Paced against the stream's start, not frame by frame: no drift over an hour.
                    time.sleep(max(0.0, camera.sent_at[0] + camera.position / camera.fps - time.monotonic()))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/video.mjpg"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> MjpegCamera:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.closed.set()
        self.server.shutdown()
        self.server.server_close()
