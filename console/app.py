"""The operator console's web application: Tornado (already serving the bot's webhook) with
server-rendered templates, no front-end build.

Every change is a plain HTML form posted with Tornado's XSRF token, so reviewing works without
JavaScript; `static/console.js` only adds keyboard shortcuts and "select all". The pages read and
write through the same calls as the command line (`Repository.feedback_items` and `review`,
`storage.stats.recent_stats`, `Registry.promote` and `rollback`), so the two cannot disagree.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import tornado.web
from tornado.httpserver import HTTPServer

from bot import replies, web
from bot.charts import stats_chart
from bot.i18n import DEFAULT_LANGUAGE, Translator
from console.auth import SESSION_COOKIE, SESSION_HOURS, Throttle, bearer, cookie_secret, token_matches
from console.heatmaps import HeatMaps, NoHeatMap
from model import CLASS_NAMES
from model.registry import Registry, RegistryError, VersionInfo, open_registry
from storage.repository import FeedbackFilter, Repository
from storage.stats import MAX_DAYS, recent_stats

log = logging.getLogger("console")
T = TypeVar("T")

HERE = Path(__file__).resolve().parent
PAGE_SIZE = 48
"""Crops per review page: a screenful on a laptop, a short scroll on a phone."""
WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")
"""ASCII digits only: str.isdigit() also takes "²", which int() refuses."""
MAX_REASON = 200
DECISIONS = {"accept": "accepted", "reject": "rejected", "pending": "pending"}
"""A review button's action and the status it gives."""
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


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

    def registry(self) -> Registry:
        # Seeded once, when the console starts (`serve`): a page view writes nothing.
        return open_registry(self.model_dir, seed=False)


class Throttled(tornado.web.HTTPError):
    """429 to an address that sent too many wrong tokens; its Retry-After says for how long."""

    def __init__(self, seconds: float) -> None:
        self.retry_after = max(1, math.ceil(seconds))
        super().__init__(429, "too many wrong tokens from your address: try again in %d s", self.retry_after)


class ConsoleHandler(tornado.web.RequestHandler):
    """Every route but the login page needs the token: as the session cookie, or as a bearer token."""

    login_required = True
    page = True
    """A page answers a visitor without a session with the login page; an image or action with 401."""

    @property
    def console(self) -> Console:
        return self.settings["console"]

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-store")

    @property
    def by_script(self) -> bool:
        """A bearer token came with the request. Any other Authorization (a proxy's Basic, say)
        is ignored: the request goes the browser's way, cookie and XSRF token."""
        return bearer(self.request.headers.get("Authorization", "")) != ""

    def get_current_user(self) -> str | None:
        if self.by_script:
            if token_matches(bearer(self.request.headers["Authorization"]), self.console.token):
                return "script"
            self.wrong_token()
            return None
        value = self.get_signed_cookie(
            SESSION_COOKIE, max_age_days=self.console.session_seconds / 86400 + 1, min_version=2
        )
        try:
            expires = float(value or b"0")
        except ValueError:
            return None
        return "operator" if expires > time.time() else None

    def refuse_if_throttled(self) -> None:
        """Before a token is checked: from an address out of tries it is not, so even the right one
        is refused, and the answer tells a guesser nothing."""
        wait = self.console.throttle.wait(self.request.remote_ip or "")
        if wait > 0:
            raise Throttled(wait)

    def wrong_token(self) -> None:
        if self.console.throttle.failed(self.request.remote_ip or ""):
            log.warning("event=console_throttled remote=%s", self.request.remote_ip)

    def prepare(self) -> None:
        if self.by_script:
            self.refuse_if_throttled()
        if not self.login_required or self.current_user is not None:
            return
        if self.page and not self.by_script and self.request.method in ("GET", "HEAD"):
            self.redirect("/login?" + urlencode({"next": self.request.uri}))
            return
        raise tornado.web.HTTPError(401, "log in, or send the console's token as a bearer token")

    def check_xsrf_cookie(self) -> None:
        # A page on another site cannot make a browser send a bearer token here (that would need
        # CORS, which is not served), so such a request is no forgery; a wrong one gets 401 in prepare().
        if not self.by_script:
            super().check_xsrf_cookie()

    async def blocking(self, work: Callable[..., T], *args: Any) -> T:
        """Database and registry work off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.console.executor, work, *args)

    def integer(self, name: str, default: int, lowest: int, highest: int) -> int:
        raw = self.get_argument(name, str(default))
        if not WHOLE_NUMBER.fullmatch(raw) or not lowest <= int(raw) <= highest:
            raise tornado.web.HTTPError(400, f"{name} must be a whole number from {lowest} to {highest}")
        return int(raw)

    def get_template_namespace(self) -> dict[str, Any]:
        namespace = super().get_template_namespace()
        namespace.update(
            label_name=label_name,
            percent=percent,
            decimal=decimal,
            score=score,
            level_name=lambda level: replies.DRIFT_LEVELS[level],
            class_names=CLASS_NAMES,
            section="",
        )
        return namespace

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        reason = self._reason
        exception = kwargs.get("exc_info", (None, None))[1]
        if isinstance(exception, tornado.web.HTTPError) and exception.log_message and status_code < 500:
            reason = exception.log_message % exception.args if exception.args else exception.log_message
        if status_code == 401:  # set here: sending an error clears the headers set before
            self.set_header("WWW-Authenticate", 'Bearer realm="maskbot console"')
        if isinstance(exception, Throttled):
            self.set_header("Retry-After", str(exception.retry_after))
        if self.by_script:
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"status": status_code, "error": reason}))
        else:
            self.render("error.html", status_code=status_code, reason=reason)


def label_name(name: str) -> str:
    """ "Mask worn incorrectly" for "mask_weared_incorrect": the bot's own words for its verdicts."""
    return replies.VERDICT[name][1]


ENGLISH = Translator(DEFAULT_LANGUAGE)


def _number(value: object) -> float | None:
    """`value` when it is a number; None for anything else a hand-edited file may hold."""
    return None if isinstance(value, bool) or not isinstance(value, int | float) else float(value)


def percent(value: object, digits: int = 0) -> str:
    """As the bot writes percentages (rounded alike, so the page and /stats agree)."""
    number = _number(value)
    return "-" if number is None else ENGLISH.percent(number, digits)


def decimal(value: object, digits: int = 4) -> str:
    number = _number(value)
    return "-" if number is None else f"{number:.{digits}f}"


def score(value: object) -> str:
    """A model's score with one fixed decimal, so columns of them line up ("89.0%")."""
    number = _number(value)
    return "-" if number is None else f"{number:.1%}"


def local_path(target: str) -> str:
    """Where to go after logging in: a path on this site, never another site (`//evil`, `https:`),
    and nothing a header cannot carry (control characters)."""
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(character) < 0x20 or ord(character) == 0x7F for character in target)
    ):
        return "/"
    return target


class LoginHandler(ConsoleHandler):
    login_required = False

    def get(self) -> None:
        if self.current_user is not None:
            self.redirect(local_path(self.get_argument("next", "/")))
            return
        self.render("login.html", error=None, next=local_path(self.get_argument("next", "/")))

    def post(self) -> None:
        self.refuse_if_throttled()
        target = local_path(self.get_body_argument("next", "/"))
        if not token_matches(self.get_body_argument("token", ""), self.console.token):
            self.wrong_token()
            log.warning("event=console_login_refused remote=%s", self.request.remote_ip)
            self.set_status(401)
            self.render("login.html", error="That is not the console's token.", next=target)
            return
        self.set_signed_cookie(
            SESSION_COOKIE,
            str(time.time() + self.console.session_seconds),
            expires_days=None,
            max_age=self.console.session_seconds,
            httponly=True,
            samesite="Strict",
            secure=self.request.protocol == "https",
        )
        log.info("event=console_login remote=%s", self.request.remote_ip)
        self.redirect(target, status=303)


class LogoutHandler(ConsoleHandler):
    login_required = False

    def post(self) -> None:
        self.clear_cookie(SESSION_COOKIE)
        self.redirect("/login", status=303)


class HealthHandler(ConsoleHandler):
    """For the container's health check, like the bot's: answers, and says nothing else."""

    login_required = False

    def get(self) -> None:
        self.finish("ok")


@tornado.web.stream_request_body
class BodyTooLargeHandler(ConsoleHandler):
    """413 from the headers, with the console's headers (web.BodyLimitedApplication)."""

    login_required = False

    def prepare(self) -> None:
        raise tornado.web.HTTPError(413, "a request body here is at most %d bytes", self.settings["max_body_size"])

    def check_xsrf_cookie(self) -> None:
        # Runs before prepare; the token would be in the body, which is never read. Nothing is
        # changed by a refusal, so there is nothing to forge.
        pass


class NotFoundHandler(ConsoleHandler):
    """Unknown paths: 404, with the console's headers like every other answer."""

    login_required = False

    def prepare(self) -> None:
        raise tornado.web.HTTPError(404, "no such page")


class HomeHandler(ConsoleHandler):
    def get(self) -> None:
        self.redirect("/review")


@dataclass(frozen=True)
class ReviewFilter:
    status: str
    label: str | None
    model: str | None
    page: int

    def query(self, **changes: Any) -> str:
        values = {"status": self.status, "label": self.label, "model": self.model, **changes}
        if self.page > 1 and "page" not in changes:
            values["page"] = self.page
        return urlencode({key: value for key, value in values.items() if value is not None})


class ReviewHandler(ConsoleHandler):
    def review_filter(self) -> ReviewFilter:
        status = self.get_argument("status", "pending")
        label = self.get_argument("label", "") or None
        if status not in DECISIONS.values():
            raise tornado.web.HTTPError(400, "status must be pending, accepted or rejected")
        if label is not None and label not in CLASS_NAMES:
            raise tornado.web.HTTPError(400, "label must be one of " + ", ".join(CLASS_NAMES))
        model = self.get_argument("model", "")[:32] or None
        return ReviewFilter(status, label, model, self.integer("page", 1, 1, 100_000))

    async def get(self) -> None:
        chosen = self.review_filter()
        repository = self.console.repository

        shown = FeedbackFilter(status=chosen.status, label=chosen.label, model_version=chosen.model, with_crop=True)

        def read():
            return (
                repository.feedback_items(shown, limit=PAGE_SIZE, offset=(chosen.page - 1) * PAGE_SIZE),
                repository.count_feedback(shown),
                repository.count_feedback(replace(shown, with_crop=False)),
                repository.feedback_model_versions(),
            )

        items, total, total_with_and_without_crop, versions = await self.blocking(read)
        pages = max(1, -(-total // PAGE_SIZE))
        if chosen.page > pages:  # the last page was just reviewed empty: go to the new last one
            self.redirect(f"/review?{chosen.query(page=pages)}")
            return
        self.render(
            "review.html",
            section="review",
            items=items,
            chosen=chosen,
            total=total,
            without_crop=total_with_and_without_crop - total,
            versions=versions,
            pages=pages,
            done=self.done_note(),
        )

    def done_note(self) -> str | None:
        status = self.get_argument("done", "")
        if status not in DECISIONS.values():
            return None
        changed = self.integer("changed", 0, 0, 10**9)
        missing = self.integer("missing", 0, 0, 10**9)
        note = f"{changed} marked {status}."
        if missing:
            note += f" {missing} no longer exist: their users used /forget, or retention deleted them."
        return note

    async def post(self) -> None:
        chosen = self.review_filter()
        one = self.get_body_argument("item", "")
        if one:
            action, _, raw_ids = one.partition(":")
            raw = [raw_ids]
        else:
            action, raw = self.get_body_argument("action", ""), self.get_body_arguments("id")
        if action not in DECISIONS:
            raise tornado.web.HTTPError(400, "the action must be accept, reject or pending")
        if not all(WHOLE_NUMBER.fullmatch(value) for value in raw):
            raise tornado.web.HTTPError(400, "feedback ids are whole numbers")
        ids = sorted({int(value) for value in raw})
        status = DECISIONS[action]
        changed = await self.blocking(self.console.repository.review, ids, status) if ids else 0
        log.info("event=console_review status=%s changed=%d asked=%d", status, changed, len(ids))
        if self.by_script:
            self.finish({"status": status, "changed": changed, "missing": len(ids) - changed})
            return
        self.redirect(f"/review?{chosen.query(done=status, changed=changed, missing=len(ids) - changed)}", status=303)


class CropHandler(ConsoleHandler):
    page = False

    async def get(self, feedback_id: str) -> None:
        png = await self.blocking(self.console.repository.shared_crop, int(feedback_id))
        if png is None:
            raise tornado.web.HTTPError(404, "no shared crop with that id")
        self.set_header("Content-Type", "image/png")
        self.set_header("Cache-Control", "private, no-store")
        self.finish(png)


class HeatMapHandler(ConsoleHandler):
    """A shared crop with the heat map of a class (`label`, else the champion's verdict on it):
    where the current champion finds that class. Like the crop, read at each request."""

    page = False

    async def get(self, feedback_id: str) -> None:
        label = self.get_argument("label", "") or None
        if label is not None and label not in CLASS_NAMES:
            raise tornado.web.HTTPError(400, "label must be one of " + ", ".join(CLASS_NAMES))
        png = await self.blocking(self.console.repository.shared_crop, int(feedback_id))
        if png is None:
            raise tornado.web.HTTPError(404, "no shared crop with that id")
        try:
            picture, shown = await self.blocking(self.console.heat_maps.draw, self.console.model_dir, png, label)
        except (NoHeatMap, RegistryError) as error:
            raise tornado.web.HTTPError(409, str(error)) from None
        self.set_header("Content-Type", "image/jpeg")
        self.set_header("Cache-Control", "private, no-store")
        self.set_header("X-Heat-Map-Label", shown)
        self.finish(picture)


class DriftHandler(ConsoleHandler):
    async def get(self) -> None:
        days = self.integer("days", 7, 1, MAX_DAYS)
        stats = await self.blocking(recent_stats, self.console.repository.database, days)
        self.render("drift.html", section="drift", stats=stats, days=days)


class DriftChartHandler(ConsoleHandler):
    page = False

    async def get(self) -> None:
        days = self.integer("days", 7, 1, MAX_DAYS)

        def draw() -> bytes:
            return stats_chart(recent_stats(self.console.repository.database, days), Translator(DEFAULT_LANGUAGE))

        self.set_header("Content-Type", "image/png")
        self.finish(await self.blocking(draw))


def score_sets(versions: list[VersionInfo]) -> list[str]:
    """The evaluation sets any version was scored on, in the order they first appear."""
    names: dict[str, None] = {}
    for info in versions:
        names.update(dict.fromkeys(info.metadata.get("metrics", {})))
    return list(names)


class ModelsHandler(ConsoleHandler):
    async def get(self) -> None:
        def read():
            registry = self.console.registry()
            try:
                rollback_to: str | None = registry.rollback_target()
            except RegistryError:
                rollback_to = None
            return registry.versions(), registry.history(), rollback_to

        try:
            versions, history, rollback_to = await self.blocking(read)
        except RegistryError as error:
            self.render("models.html", section="models", error=str(error), done=None)
            return
        # After a promotion or rollback, say what happened, from the history itself: a link
        # cannot put words on this page.
        champion = next((info.name for info in versions if info.status == "champion"), None)
        latest = history[-1] if history and self.get_argument("changed", "") else None
        if latest is not None and (latest["action"] not in ("promote", "rollback") or latest["version"] != champion):
            latest = None
        self.render(
            "models.html",
            section="models",
            error=None,
            versions=versions,
            history=list(reversed(history)),
            sets=score_sets(versions),
            rollback_to=rollback_to,
            done=None if latest is None else changed_note(latest),
        )


def changed_note(entry: dict) -> str:
    verb = "is the champion again" if entry.get("action") == "rollback" else "is the champion now"
    return (
        f"{entry.get('version')} {verb} (was {entry.get('previous') or '-'}); "
        "bots switch to it on /reload or at the daily job."
    )


class RegistryActionHandler(ConsoleHandler):
    """Promote and roll back: a GET shows what would change and why; only the POST changes it."""

    async def registry_work(self, work: Callable[[Registry], T]) -> T:
        """`work` on the registry; a registry that cannot be changed (one model folder, no earlier
        champion, a champion pointer naming no version) answers 409 with the reason."""
        try:
            return await self.blocking(lambda: work(self.console.registry()))
        except RegistryError as error:
            raise tornado.web.HTTPError(409, str(error)) from None

    def expected_champion(self) -> str | None:
        """The champion the confirmation page showed; scripts may leave it out."""
        return self.get_body_argument("champion", None)

    def reason(self, default: str = "operator's decision") -> str:
        return " ".join(self.get_body_argument("reason", "").split())[:MAX_REASON] or default

    def done(self, entry: dict) -> None:
        log.info("event=console_%s version=%s previous=%s", entry["action"], entry["version"], entry["previous"])
        if self.by_script:
            self.finish({"champion": entry["version"], "previous": entry["previous"]})
        else:
            self.redirect("/models?changed=1", status=303)


def champion_of(versions: dict[str, VersionInfo]) -> VersionInfo | None:
    """None in a registry whose champion pointer is gone (promoting sets one again)."""
    return next((info for info in versions.values() if info.status == "champion"), None)


class PromoteHandler(RegistryActionHandler):
    def chosen(self, registry: Registry) -> tuple[VersionInfo, VersionInfo | None]:
        """The version asked for and the champion."""
        versions = {info.name: info for info in registry.versions()}
        name = self.get_argument("version", "")
        if name not in versions:
            raise tornado.web.HTTPError(404, "no such model version")
        return versions[name], champion_of(versions)

    async def get(self) -> None:
        chosen, champion = await self.registry_work(self.chosen)
        compared = [chosen] if champion is None else [champion, chosen]
        self.render(
            "promote.html",
            section="models",
            chosen=chosen,
            champion=champion,
            compared=compared,
            sets=score_sets(compared),
        )

    async def post(self) -> None:
        reason, expected = self.reason(), self.expected_champion()

        def promote(registry: Registry) -> dict:
            chosen, champion = self.chosen(registry)
            if champion is not None and chosen.name == champion.name:
                raise tornado.web.HTTPError(409, f"{chosen.name} is the champion already")
            registry.promote(chosen.name, f"promoted in the console: {reason}", forced=True, expected_champion=expected)
            return registry.history()[-1]

        self.done(await self.registry_work(promote))


class RollbackHandler(RegistryActionHandler):
    @staticmethod
    def target(registry: Registry) -> tuple[VersionInfo, VersionInfo]:
        """The champion before the current one, and the current one."""
        name, current = registry.rollback_target(), registry.champion()
        versions = {info.name: info for info in registry.versions()}
        if name not in versions:
            raise RegistryError(f"{name}, the champion before, is no longer in the registry")
        return versions[name], versions[current]

    async def get(self) -> None:
        target, champion = await self.registry_work(self.target)
        self.render(
            "rollback.html", section="models", target=target, champion=champion, sets=score_sets([champion, target])
        )

    async def post(self) -> None:
        reason, expected = self.reason(), self.expected_champion()

        def roll_back(registry: Registry) -> dict:
            self.target(registry)
            registry.rollback(f"rolled back in the console: {reason}", expected_champion=expected)
            return registry.history()[-1]

        self.done(await self.registry_work(roll_back))


def make_app(console: Console) -> tornado.web.Application:
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
