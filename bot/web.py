"""The HTTP servers of the bot's PORT and of the operator console, hardened alike.

Both are Tornado's HTTPServer with its own limits set: a connection that sends no complete request
head within IDLE_SECONDS (a half-sent request, or an idle keep-alive) is closed, and so is one whose
body takes longer than BODY_SECONDS; a body announced larger than the route allows is refused with
413 from the headers, before any of it is read. On top of Tornado: at most `connection_cap()`
connections are open at once, and running out of file descriptors pauses accepting for a moment
instead of failing in a loop.
"""

from __future__ import annotations

import errno
import logging
import resource
import socket
import time
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.httputil import HTTPServerRequest
from tornado.ioloop import IOLoop
from tornado.iostream import IOStream
from tornado.web import Application, HTTPError, RequestHandler, stream_request_body

log = logging.getLogger("bot.web")

IDLE_SECONDS = 10.0
"""For the request head, and between keep-alive requests (Tornado times both with one setting).
Telegram, a proxy or a browser sends its headers at once."""
BODY_SECONDS = 10.0
MAX_HEADER_BYTES = 16 * 1024
MAX_BODY = 16 * 1024
"""Unless a route allows more: the console's largest form (a page of review ids and a reason) is
a few kilobytes, and the bot's routes take no body but the webhook's (which sets its own)."""
MAX_CONNECTIONS = 1000
ACCEPT_PAUSE_SECONDS = 1.0
"""How long accepting pauses when the process is out of descriptors: they free up as
connections close, and a retry meanwhile would only fail again."""
LOG_EVERY_SECONDS = 60.0
OUT_OF_DESCRIPTORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


def connection_cap() -> int:
    """MAX_CONNECTIONS, or half the descriptors this process may open if that is fewer: the rest
    are for the Bot API, the database, downloads and the model."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(1, min(MAX_CONNECTIONS, soft // 2))


def declared_length(request: HTTPServerRequest) -> int:
    """The body size a request announces; 0 without a (valid) Content-Length, which Tornado
    refuses by itself or bounds while reading (chunked bodies)."""
    try:
        return int(request.headers.get("Content-Length", "0").split(",")[0])
    except ValueError:
        return 0


@stream_request_body
class BodyTooLarge(RequestHandler):
    """413 from the headers: streaming, so prepare() runs before the body is read, and answering
    there makes Tornado close the connection instead of reading the rest."""

    def prepare(self) -> None:
        raise HTTPError(413, "the body is over %d bytes", self.application.settings["max_body_size"])


class BodyLimitedApplication(Application):
    """A Tornado application that refuses a body announced over its `max_body_size` setting (413)
    before any handler reads it. A handler that streams its body (@stream_request_body) sees the
    headers in prepare() and sets its own limit; the `body_too_large_handler` setting answers the
    others (BodyTooLarge unless given)."""

    def __init__(self, handlers: Any = None, **settings: Any) -> None:
        settings.setdefault("max_body_size", MAX_BODY)
        settings.setdefault("body_too_large_handler", BodyTooLarge)
        super().__init__(handlers, **settings)

    def find_handler(self, request: HTTPServerRequest, **kwargs: Any) -> Any:
        delegate = super().find_handler(request, **kwargs)
        if not delegate.stream_request_body and declared_length(request) > self.settings["max_body_size"]:
            return self.get_handler_delegate(request, self.settings["body_too_large_handler"])
        return delegate


class GuardedHTTPServer(HTTPServer):
    """Tornado's HTTPServer that keeps at most `max_connections` open, leaving further ones in the
    listen queue until one closes, and pauses accepting for ACCEPT_PAUSE_SECONDS when accept()
    fails for want of descriptors (Tornado's own accept loop would raise, be called again at once,
    and log each failure), logging that at most once every LOG_EVERY_SECONDS."""

    def initialize(self, *args: Any, max_connections: int = MAX_CONNECTIONS, **kwargs: Any) -> None:
        super().initialize(*args, **kwargs)
        self.max_connections = max_connections
        self.open_connections = 0
        self._listeners: list[_Listener] = []
        self._complaints = 0
        self._complained_at = float("-inf")

    def add_sockets(self, sockets: Any) -> None:
        for sock in sockets:
            listener = _Listener(self, sock)
            self._listeners.append(listener)
            listener.resume()

    def stop(self) -> None:
        # The sockets are this class's, not in TCPServer's books: it closes them here.
        for listener in self._listeners:
            listener.close()
        self._listeners.clear()
        super().stop()

    def handle_stream(self, stream: IOStream, address: tuple) -> None:
        self.open_connections += 1
        super().handle_stream(stream, address)

    def on_close(self, server_conn: object) -> None:
        super().on_close(server_conn)
        self.open_connections -= 1
        for listener in self._listeners:
            if listener.full:
                listener.resume()

    def complain(self, reason: str) -> None:
        """Log why accepting paused, once in a while: under attack, every connection would say it."""
        self._complaints += 1
        now = time.monotonic()
        if now - self._complained_at >= LOG_EVERY_SECONDS:
            log.warning(
                "event=accept_paused reason=%s open=%d cap=%d times=%d",
                reason,
                self.open_connections,
                self.max_connections,
                self._complaints,
            )
            self._complained_at, self._complaints = now, 0


class _Listener:
    """One listening socket's accepting, which can pause and resume."""

    BATCH = 128
    """Connections accepted per readiness event, as Tornado does, so the loop serves others too."""

    def __init__(self, server: GuardedHTTPServer, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.loop = IOLoop.current()
        self.accepting = False
        self.full = False
        self.retry: object | None = None
        self.closed = False

    def resume(self) -> None:
        self.full = False
        if not self.accepting and not self.closed:
            self.loop.add_handler(self.sock, self._accept, IOLoop.READ)
            self.accepting = True

    def pause(self) -> None:
        if self.accepting:
            self.loop.remove_handler(self.sock)
            self.accepting = False

    def close(self) -> None:
        self.pause()
        if self.retry is not None:
            self.loop.remove_timeout(self.retry)
        self.closed = True
        self.sock.close()

    def _retry(self) -> None:
        self.retry = None
        self.resume()

    def _accept(self, fd: Any, events: int) -> None:
        for _ in range(self.BATCH):
            if self.server.open_connections >= self.server.max_connections:
                self.full = True
                self.pause()
                self.server.complain("connection_cap")
                return
            try:
                connection, address = self.sock.accept()
            except BlockingIOError:
                return
            except ConnectionAbortedError:
                continue
            except OSError as error:
                if error.errno not in OUT_OF_DESCRIPTORS:
                    raise
                self.pause()
                self.retry = self.loop.call_later(ACCEPT_PAUSE_SECONDS, self._retry)
                self.server.complain(errno.errorcode[error.errno])
                return
            # Tornado's own set-up of an accepted connection (TLS if configured, the IOStream).
            self.server._handle_connection(connection, address)


def http_server(application: Application, xheaders: bool = False) -> GuardedHTTPServer:
    return GuardedHTTPServer(
        application,
        xheaders=xheaders,
        idle_connection_timeout=IDLE_SECONDS,
        body_timeout=BODY_SECONDS,
        max_header_size=MAX_HEADER_BYTES,
        max_body_size=application.settings.get("max_body_size", MAX_BODY),
        max_connections=connection_cap(),
    )
