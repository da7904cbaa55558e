"""The operator console's web application: Tornado (already serving the bot's webhook) with
server-rendered templates, no front-end build.

Every change is a plain HTML form posted with Tornado's XSRF token, so reviewing works without
JavaScript; `static/console.js` only adds keyboard shortcuts, "select all" and a camera chart that
redraws itself. The pages read and write through the same calls as the command line
(`Repository.feedback_items` and `review`, `storage.stats.recent_stats`, `storage.cameras`,
`Registry.promote` and `rollback`), so the two cannot disagree.

This module is the hub: what the pages work on (`Console`), every URL and its handler
(`make_app`), and the server. The pages are in `console.views`, one module per kind.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import tornado.web
from tornado.httpserver import HTTPServer

from bot import web
from console.auth import SESSION_HOURS, Throttle, cookie_secret
from console.heatmaps import HeatMaps
from console.views.cameras import (
    CameraChartHandler,
    CameraHandler,
    CamerasHandler,
    LiveViewHandler,
)
from console.views.crops import CropHandler, HeatMapHandler
from console.views.drift import DriftChartHandler, DriftHandler
from console.views.login import LoginHandler, LogoutHandler
from console.views.models import ModelsHandler, PromoteHandler, RollbackHandler
from console.views.review import ReviewHandler
from console.views.site import BodyTooLargeHandler, HealthHandler, HomeHandler, NotFoundHandler
from model.registry import Registry, RegistryError, open_registry
from storage.repository import Repository

log = logging.getLogger("console")

HERE = Path(__file__).resolve().parent


@dataclass
class Console:
    """What the pages work on; one per server."""

    repository: Repository
    model_dir: Path
    token: str
    session_seconds: int = SESSION_HOURS * 3600
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(4, "console"))
    throttle: Throttle = field(default_factory=Throttle)
    """Wrong tokens, at the login form or as bearer tokens, per client address."""
    heat_maps: HeatMaps = field(default_factory=HeatMaps)
    camera_viewers: Counter[str] = field(default_factory=Counter)
    """Live views being relayed, per camera (console.views.cameras.MAX_VIEWERS)."""

    def registry(self) -> Registry:
        # Seeded once, when the console starts (`serve`): a page view writes nothing.
        return open_registry(self.model_dir, seed=False)


def make_app(console: Console) -> tornado.web.Application:
    """Every URL the console answers, and its handler."""
    return web.BodyLimitedApplication(
        [
            (r"/", HomeHandler),
            (r"/healthz", HealthHandler),
            (r"/login", LoginHandler),
            (r"/logout", LogoutHandler),
            (r"/review", ReviewHandler),
            (r"/crops/([0-9]{1,18})\.png", CropHandler),
            (r"/crops/([0-9]{1,18})/heat\.jpg", HeatMapHandler),
            (r"/drift", DriftHandler),
            (r"/drift/chart\.png", DriftChartHandler),
            (r"/models", ModelsHandler),
            (r"/models/promote", PromoteHandler),
            (r"/models/rollback", RollbackHandler),
            (r"/cameras", CamerasHandler),
            (r"/cameras/([^/]+)", CameraHandler),
            (r"/cameras/([^/]+)/chart\.png", CameraChartHandler),
            (r"/cameras/([^/]+)/live\.mjpg", LiveViewHandler),
        ],
        console=console,
        template_path=str(HERE / "templates"),
        static_path=str(HERE / "static"),
        cookie_secret=cookie_secret(console.token),
        xsrf_cookies=True,
        xsrf_cookie_kwargs={"httponly": True, "samesite": "Strict"},
        default_handler_class=NotFoundHandler,
        body_too_large_handler=BodyTooLargeHandler,
    )


def make_server(console: Console, behind_proxy: bool = False) -> HTTPServer:
    """The console's HTTP server, with the bot's limits: timeouts, body size, connections (bot.web)."""
    return web.http_server(make_app(console), xheaders=behind_proxy)


async def serve(console: Console, host: str, port: int, behind_proxy: bool = False) -> None:
    """Serve until SIGINT or SIGTERM, then finish the requests in flight."""
    try:
        await asyncio.get_running_loop().run_in_executor(console.executor, open_registry, console.model_dir)
    except RegistryError as error:  # the Models page says so; review and drift work regardless
        log.warning("event=console_registry_unusable %s", error)
    server = make_server(console, behind_proxy)
    server.listen(port, address=host)
    log.info("event=console_listening url=http://%s:%d/", host, port)
    if host not in ("127.0.0.1", "localhost", "::1") and not behind_proxy:
        log.warning(
            "the console listens on %s over plain HTTP: keep that port private, or put a TLS proxy in front "
            "and pass --behind-proxy",
            host,
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.stop()
    await server.close_all_connections()
    console.executor.shutdown()
    log.info("event=console_stopped")
