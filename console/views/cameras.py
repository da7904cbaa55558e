"""The Cameras pages: every camera watcher (`maskbot watch`) with its people counted, and one
camera's annotated live view, its last half hour's chart and minutes.

The live view is relayed, not linked: the browser asks the console (`/cameras/NAME/live.mjpg`),
which asks the watcher with the console's token and passes the MJPEG stream on. So the page's
images stay the console's own (its Content-Security-Policy allows no other), the token never
reaches the browser, and a watcher's port need not be open to the operators' network.
"""

from __future__ import annotations

import logging
import ssl
from collections import Counter
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit

import tornado.web
from tornado import gen
from tornado.httputil import HTTPHeaders
from tornado.iostream import IOStream, StreamClosedError, UnsatisfiableReadError
from tornado.tcpclient import TCPClient

from console.camera_chart import minutes_chart, ordered
from console.views.base import ConsoleHandler
from console.views.formatting import elapsed, verdict_name
from storage.cameras import MAX_NAME, CameraInfo, cameras, minute_of, minutes, tallies
from storage.repository import utc_now

log = logging.getLogger("console")

LIVE_SECONDS = 120
"""A watcher announces itself every 30 s: one not heard from in four of those is stopped, or cut off."""
CHART_MINUTES = 30
MAX_VIEWERS = 3
"""Live views relayed per camera at once: each is a stream of JPEGs the watcher encodes and sends."""
CONNECT_SECONDS = 5.0
QUIET_SECONDS = 10.0
"""A watcher that sends no byte for this long, before or during its stream, is given up on."""
MAX_VIEW_SECONDS = 30 * 60
"""A live view ends after this long, so a forgotten tab does not hold one of MAX_VIEWERS forever."""
MAX_HEAD_BYTES = 16 * 1024
CHUNK_BYTES = 64 * 1024


def is_live(camera: CameraInfo, now: datetime) -> bool:
    return now - camera.seen_at <= timedelta(seconds=LIVE_SECONDS)


class CameraHandlerBase(ConsoleHandler):
    """What the handlers of one camera's URLs share: finding it by name, and the faces choice."""

    async def camera(self, name: str) -> CameraInfo:
        """The camera of that name (Tornado has decoded its %-escapes), or 404: only names that
        watchers announced are looked at."""
        if len(name) <= MAX_NAME:
            for camera in await self.blocking(cameras, self.console.repository.database):
                if camera.name == name:
                    return camera
        raise tornado.web.HTTPError(404, "no camera of that name")

    def faces_shown(self) -> bool:
        faces = self.get_argument("faces", "blurred")
        if faces not in ("blurred", "shown"):
            raise tornado.web.HTTPError(400, "faces must be blurred or shown")
        return faces == "shown"


class CamerasHandler(ConsoleHandler):
    async def get(self) -> None:
        now = utc_now()
        database = self.console.repository.database
        found = await self.blocking(cameras, database)
        last_hour = {
            tally.camera: tally for tally in await self.blocking(tallies, database, now - timedelta(hours=1), now)
        }
        self.render(
            "cameras.html",
            section="cameras",
            cameras=found,
            last_hour=last_hour,
            now=now,
            is_live=is_live,
            elapsed=elapsed,
            live_minutes=LIVE_SECONDS // 60,
        )


class CameraHandler(CameraHandlerBase):
    async def get(self, name: str) -> None:
        camera = await self.camera(name)
        now = utc_now()
        last = minute_of(now)
        counts = await self.blocking(
            minutes, self.console.repository.database, camera.name, last - timedelta(minutes=CHART_MINUTES - 1)
        )
        self.render(
            "camera.html",
            section="cameras",
            camera=camera,
            live=is_live(camera, now),
            now=now,
            faces_shown=self.faces_shown(),
            counts=counts,
            labels=ordered({label for by_label in counts.values() for label in by_label}),
            chart_minutes=CHART_MINUTES,
            max_view_minutes=MAX_VIEW_SECONDS // 60,
            elapsed=elapsed,
            verdict_name=verdict_name,
        )


class CameraChartHandler(CameraHandlerBase):
    page = False

    async def get(self, name: str) -> None:
        camera = await self.camera(name)
        last = minute_of(utc_now())

        def draw() -> bytes:
            since = last - timedelta(minutes=CHART_MINUTES - 1)
            return minutes_chart(minutes(self.console.repository.database, camera.name, since), last, CHART_MINUTES)

        self.set_header("Content-Type", "image/png")
        self.finish(await self.blocking(draw))


class WatcherUnreachable(Exception):
    """No live view from the watcher; the message says why, for the log. The answer says only
    which of two it was (an error's details are not shown past 500): 503 when the watcher cannot
    be reached, 502 when it answers something else than its stream."""

    def __init__(self, message: str, status: int = 503) -> None:
        super().__init__(message)
        self.status = status

    @property
    def reason(self) -> str:
        return "Camera watcher unreachable" if self.status == 503 else "Camera watcher sent no stream"


class LiveViewHandler(CameraHandlerBase):
    """The watcher's annotated MJPEG stream, relayed byte for byte as it comes, under the console's
    headers. Ends when the browser goes away (closing the watcher's connection too), when the
    watcher ends or falls silent for QUIET_SECONDS, or after MAX_VIEW_SECONDS."""

    page = False

    def initialize(self) -> None:
        self.upstream: IOStream | None = None
        self.browser_gone = False

    async def get(self, name: str) -> None:
        camera = await self.camera(name)
        if camera.stream_url is None:
            raise tornado.web.HTTPError(404, "this camera's watcher serves no live view")
        viewers: Counter[str] = self.console.camera_viewers
        if viewers[camera.name] >= MAX_VIEWERS:
            raise tornado.web.HTTPError(
                503, "%d live views of this camera are open", MAX_VIEWERS, reason="Too many live views of this camera"
            )
        viewers[camera.name] += 1
        try:
            await self.relay(camera.name, camera.stream_url)
        finally:
            viewers[camera.name] -= 1
            if self.upstream is not None:
                self.upstream.close()

    async def relay(self, name: str, stream_url: str) -> None:
        try:
            content_type = await self.open_stream(stream_url)
        except WatcherUnreachable as error:
            log.warning("event=camera_live_view_failed camera=%s reason=%s", name, error)
            raise tornado.web.HTTPError(
                error.status, "the watcher's live view: %s", error, reason=error.reason
            ) from None
        assert self.upstream is not None
        if self.browser_gone:
            return
        self.set_header("Content-Type", content_type)
        # A proxy in front (nginx) would otherwise hold frames back to fill its buffer.
        self.set_header("X-Accel-Buffering", "no")
        ends = self.request.request_time() + MAX_VIEW_SECONDS
        try:
            await self.flush()  # the head at once: the watcher's first frame may take a while
            while not self.browser_gone and self.request.request_time() < ends:
                chunk = await gen.with_timeout(
                    timedelta(seconds=QUIET_SECONDS),
                    self.upstream.read_bytes(CHUNK_BYTES, partial=True),
                    quiet_exceptions=(StreamClosedError,),
                )
                self.write(chunk)
                await self.flush()
        except (StreamClosedError, gen.TimeoutError):
            pass  # the watcher ended or fell silent, or the browser left: the view is over either way
        if not self.browser_gone:
            self.finish()

    async def open_stream(self, stream_url: str) -> str:
        """Connects to the watcher, asks for its stream with the token, and reads the answer's head:
        its Content-Type when it is an MJPEG stream; WatcherUnreachable otherwise."""
        address = urlsplit(stream_url)
        if address.scheme not in ("http", "https") or not address.hostname:
            raise WatcherUnreachable(f"its address {stream_url!r} is not http(s)://HOST:PORT", 502)
        port = address.port or (443 if address.scheme == "https" else 80)
        tls = ssl.create_default_context() if address.scheme == "https" else None
        try:
            self.upstream = await TCPClient().connect(address.hostname, port, ssl_options=tls, timeout=CONNECT_SECONDS)
            path = address.path.rstrip("/") + "/stream.mjpg"
            if self.faces_shown():
                path += "?" + urlencode({"faces": "shown"})
            # HTTP/1.0, so the stream comes as it is, never in chunks, and ends with the connection.
            self.upstream.write(
                f"GET {path} HTTP/1.0\r\nHost: {address.netloc}\r\n"
                f"Authorization: Bearer {self.console.token}\r\nAccept: multipart/x-mixed-replace\r\n\r\n".encode()
            )
            head = await gen.with_timeout(
                timedelta(seconds=QUIET_SECONDS),
                self.upstream.read_until(b"\r\n\r\n", max_bytes=MAX_HEAD_BYTES),
                quiet_exceptions=(StreamClosedError, UnsatisfiableReadError),
            )
        except (OSError, StreamClosedError, gen.TimeoutError) as error:
            cause = getattr(error, "real_error", None) or error
            raise WatcherUnreachable(f"cannot reach {address.netloc}: {cause or type(cause).__name__}") from None
        except UnsatisfiableReadError:
            raise WatcherUnreachable("its answer's head is too long", 502) from None
        status_line, _, rest = head.decode("latin-1").partition("\r\n")
        status = status_line.split(" ", 2)[1:2]
        if status != ["200"]:
            refused = " (not the console's CONSOLE_TOKEN?)" if status == ["401"] else ""
            raise WatcherUnreachable(f"it answered {status_line.strip()!r}{refused}", 502)
        content_type = HTTPHeaders.parse(rest).get("Content-Type", "")
        if not content_type.startswith("multipart/x-mixed-replace"):
            raise WatcherUnreachable(f"it sent {content_type or 'no Content-Type'}, not an MJPEG stream", 502)
        return content_type

    def on_connection_close(self) -> None:
        self.browser_gone = True
        if self.upstream is not None:
            self.upstream.close()
