"""The live view: the watcher's judged frames, boxed and numbered as group photos are, served as
MJPEG to whoever holds the console's token (the console, which shows it to operators).

Faces are blurred unless the reader asks for `?faces=shown`: the console asks only when an
operator turns it on. A frame is drawn only while someone watches, once per frame and per choice,
on a thread of its own, and at most MAX_VIEWERS read at once.
"""

from __future__ import annotations

import asyncio
import io
import logging
from concurrent.futures import ThreadPoolExecutor

import tornado.web
from PIL import Image, ImageDraw, ImageFilter
from tornado.httpserver import HTTPServer
from tornado.iostream import StreamClosedError

from bot.drawing import COLOURS, font
from bot.replies import SYMBOL
from camera.watcher import Judged
from console.auth import bearer, token_matches

log = logging.getLogger("camera.live")

MAX_VIEWERS = 4
VIEW_WIDTH = 960
"""The live view's width: enough to see who is where, a third of a 720p frame's pixels to send."""
BOUNDARY = "frame"
WAIT_FOR_FRAME = 15.0
"""Seconds a viewer waits for a new frame before the connection is closed (the camera is down)."""


class Board:
    """The newest judged frame, handed from the judging thread to the event loop's viewers."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.frame: Judged | None = None
        self.number = 0
        self._changed = asyncio.Condition()
        self._drawn: dict[tuple[int, bool], bytes] = {}
        self._drawing = ThreadPoolExecutor(1, thread_name_prefix="camera-live")
        self.viewers = 0

    def publish(self, frame: Judged) -> None:
        """From any thread: a new frame to show. Costs nothing while nobody watches."""
        if self.viewers:
            self.loop.call_soon_threadsafe(self._set, frame)

    def _set(self, frame: Judged) -> None:
        self.frame, self.number = frame, self.number + 1
        self._drawn.clear()

        async def notify() -> None:
            async with self._changed:
                self._changed.notify_all()

        self.loop.create_task(notify())

    async def next_jpeg(self, after: int, faces_shown: bool) -> tuple[int, bytes] | None:
        """The first frame newer than `after`, drawn; None when none comes in WAIT_FOR_FRAME seconds."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: self.number > after), WAIT_FOR_FRAME)
            except TimeoutError:
                return None
        number, frame = self.number, self.frame
        assert frame is not None
        key = (number, faces_shown)
        if key not in self._drawn:
            self._drawn[key] = await self.loop.run_in_executor(self._drawing, draw, frame, faces_shown)
        return number, self._drawn[key]

    def close(self) -> None:
        self._drawing.shutdown(wait=False, cancel_futures=True)


def draw(frame: Judged, faces_shown: bool) -> bytes:
    """The frame at VIEW_WIDTH, each face blurred (unless shown), boxed in its verdict's colour
    and numbered by its person, with the verdict's symbol: not told by colour alone."""
    image = Image.fromarray(frame.pixels)
    scale = VIEW_WIDTH / image.width
    image = image.resize((VIEW_WIDTH, max(1, round(image.height * scale))), Image.Resampling.BILINEAR)
    pen = ImageDraw.Draw(image)
    for seen in frame.seen:
        face = seen.face.scaled(scale)
        box = (face.x, face.y, face.x + face.width, face.y + face.height)
        if not faces_shown:  # the head around the face too: hair and ears tell who it is
            grow_x, grow_y = face.width // 4, face.height // 4
            head = (
                max(0, face.x - grow_x),
                max(0, face.y - grow_y),
                min(image.width, face.x + face.width + grow_x),
                min(image.height, face.y + face.height + grow_y),
            )
            image.paste(_blurred(image.crop(head)), head[:2])
        kind = "unsure" if seen.unsure else seen.label
        width = max(2, face.width // 25)
        pen.rectangle(box, outline=COLOURS[kind], width=width)
        label = f"{seen.track} {SYMBOL[kind]}"
        text_font = font(max(12, min(28, face.height // 4)))
        left, top, right, bottom = pen.textbbox((0, 0), label, font=text_font)
        tag_height = bottom - top + 8
        # Above the box, or inside its top where the face touches the frame's top edge.
        tag_top = face.y - tag_height if face.y >= tag_height else face.y
        pen.rectangle((face.x, tag_top, face.x + right - left + 8, tag_top + tag_height), fill=COLOURS[kind])
        pen.text((face.x + 4 - left, tag_top + 4 - top), label, fill=(255, 255, 255), font=text_font)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=75)
    return buffer.getvalue()


def _blurred(region: Image.Image) -> Image.Image:
    """A face no one could recognise: shrunk to 6 pixels across, then enlarged and smoothed."""
    small = region.resize((6, max(1, round(6 * region.height / max(region.width, 1)))), Image.Resampling.BOX)
    return small.resize(region.size, Image.Resampling.NEAREST).filter(
        ImageFilter.GaussianBlur(max(2, region.width // 12))
    )


class StreamHandler(tornado.web.RequestHandler):
    def initialize(self, board: Board, token: str) -> None:
        self.board = board
        self.token = token

    async def get(self) -> None:
        if not token_matches(bearer(self.request.headers.get("Authorization", "")), self.token):
            raise tornado.web.HTTPError(401)
        if self.board.viewers >= MAX_VIEWERS:
            raise tornado.web.HTTPError(503, "too many viewers")
        faces_shown = self.get_query_argument("faces", "") == "shown"
        self.set_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.set_header("Cache-Control", "no-store")
        self.board.viewers += 1
        try:
            number = self.board.number
            while (drawn := await self.board.next_jpeg(number, faces_shown)) is not None:
                number, jpeg = drawn
                self.write(
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                    + jpeg
                    + b"\r\n"
                )
                await self.flush()
        except StreamClosedError:
            return
        finally:
            self.board.viewers -= 1


def serve(board: Board, token: str, host: str, port: int) -> HTTPServer:
    app = tornado.web.Application([(r"/stream\.mjpg", StreamHandler, {"board": board, "token": token})])
    server = HTTPServer(app, xheaders=False)
    server.listen(port, address=host)
    log.info("event=live_view_listening host=%s port=%d", host, port)
    return server
