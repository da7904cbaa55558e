"""A camera watcher's live view as `maskbot watch` serves it, for the console's tests:
`GET /stream.mjpg` (`?faces=shown` for unblurred faces) with the console's bearer token answers a
`multipart/x-mixed-replace; boundary=frame` stream of JPEGs, anything else 401 or 404. Its frames
are plain colours: grey when blurred, green when faces are shown, so a test tells them apart.
It records every request and knows how many streams are open."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from PIL import Image, ImageDraw

SIZE = (320, 240)


def jpeg(colour: str, words: str) -> bytes:
    """A frame of one colour saying what it is: the browser test's screenshot shows it."""
    image = Image.new("RGB", SIZE, colour)
    ImageDraw.Draw(image).text((12, 12), f"fake watcher: {words}", fill="white")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


BLURRED, SHOWN = jpeg("dimgrey", "faces blurred"), jpeg("darkgreen", "faces shown")


def part(frame: bytes) -> bytes:
    return b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n" % (len(frame), frame)


@dataclass(frozen=True)
class Seen:
    """One request the watcher was sent."""

    path: str
    query: dict[str, list[str]]
    authorization: str | None


@dataclass
class FakeWatcher:
    token: str
    frames: int | None = None
    """Frames sent before the stream ends; None: until the client leaves."""
    silent: bool = False
    """Sends the stream's head, then nothing."""
    interval: float = 0.05
    seen: list[Seen] = field(default_factory=list)
    open_streams: int = 0
    server: asyncio.Server | None = None
    connections: set[asyncio.StreamWriter] = field(default_factory=set)

    url: str = ""
    """Its live view's address, as a watcher announces it; kept after stop(), for a test of a watcher gone."""

    async def start(self) -> str:
        self.server = await asyncio.start_server(self.answer, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self.url

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.connections:
            writer.close()
        await self.server.wait_closed()

    async def answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections.add(writer)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            target = urlsplit(head[0].split(" ")[1])
            headers = dict(line.split(": ", 1) for line in head[1:] if line)
            self.seen.append(Seen(target.path, parse_qs(target.query), headers.get("Authorization")))
            if headers.get("Authorization") != f"Bearer {self.token}":
                writer.write(b"HTTP/1.0 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
            elif target.path != "/stream.mjpg":
                writer.write(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            else:
                await self.stream(
                    reader, writer, SHOWN if parse_qs(target.query).get("faces") == ["shown"] else BLURRED
                )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the console left
        finally:
            self.connections.discard(writer)
            writer.close()

    async def stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, frame: bytes) -> None:
        self.open_streams += 1
        try:
            writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n\r\n")
            await writer.drain()
            if self.silent:
                await reader.read()  # until the console hangs up
                return
            sent = 0
            while self.frames is None or sent < self.frames:
                writer.write(part(frame))
                await writer.drain()
                sent += 1
                await asyncio.sleep(self.interval)
        finally:
            self.open_streams -= 1


def frames_of(stream: bytes) -> list[bytes]:
    """The JPEGs of an MJPEG stream's complete parts."""
    found = []
    for chunk in stream.split(b"--frame\r\n")[1:]:
        head, _, rest = chunk.partition(b"\r\n\r\n")
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        if len(rest) >= length + 2:
            found.append(rest[:length])
    return found


@contextmanager
def watcher_in_thread(token: str) -> Iterator[FakeWatcher]:
    """A FakeWatcher on an event loop of its own, for a console in another process."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    watcher = FakeWatcher(token)
    asyncio.run_coroutine_threadsafe(watcher.start(), loop).result(10)
    try:
        yield watcher
    finally:
        asyncio.run_coroutine_threadsafe(watcher.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
