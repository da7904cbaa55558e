"""The operator console's web application: Tornado (already serving the bot's webhook) with
server-rendered templates, no front-end build.

Every change is a plain HTML form posted with Tornado's XSRF token, so reviewing works without
JavaScript; `static/console.js` only adds keyboard shortcuts and "select all". The pages read and
write through the same calls as the command line (`Repository.feedback_items` and `review`,
`Repository.recent_stats`, `Registry.promote` and `rollback`), so the two cannot disagree.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import tornado.web
from tornado.httpserver import HTTPServer

from bot import replies
from bot.charts import stats_chart
from bot.i18n import DEFAULT_LANGUAGE, Translator
from console.auth import SESSION_COOKIE, SESSION_HOURS, bearer, cookie_secret, token_matches
from model.registry import Registry, RegistryError, open_registry
from storage.repository import CLASS_NAMES, Repository

log = logging.getLogger("console")
T = TypeVar("T")

HERE = Path(__file__).resolve().parent
PAGE_SIZE = 48
"""Crops per review page: a screenful on a laptop, a short scroll on a phone."""
MAX_DAYS = 365
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

    def registry(self) -> Registry:
        return open_registry(self.model_dir)


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
        return "Authorization" in self.request.headers

    def get_current_user(self) -> str | None:
        if self.by_script:
            return (
                "script" if token_matches(bearer(self.request.headers["Authorization"]), self.console.token) else None
            )
        value = self.get_signed_cookie(SESSION_COOKIE, max_age_days=self.console.session_seconds / 86400 + 1)
        try:
            expires = float(value or b"0")
        except ValueError:
            return None
        return "operator" if expires > time.time() else None

    def prepare(self) -> None:
        if not self.login_required or self.current_user is not None:
            return
        if self.page and not self.by_script and self.request.method in ("GET", "HEAD"):
            self.redirect("/login?" + urlencode({"next": self.request.uri}))
            return
        raise tornado.web.HTTPError(401, "log in, or send the console's token as a bearer token")

    def check_xsrf_cookie(self) -> None:
        # A browser sends no Authorization header across sites (it would need CORS, which is not
        # served), so a request that carries one cannot be forged; a wrong one gets 401 in prepare().
        if not self.by_script:
            super().check_xsrf_cookie()

    async def blocking(self, work: Callable[..., T], *args: Any) -> T:
        """Database and registry work off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.console.executor, work, *args)

    def integer(self, name: str, default: int, lowest: int, highest: int) -> int:
        raw = self.get_argument(name, str(default))
        if not raw.isdigit() or not lowest <= int(raw) <= highest:
            raise tornado.web.HTTPError(400, f"{name} must be a whole number from {lowest} to {highest}")
        return int(raw)

    def get_template_namespace(self) -> dict[str, Any]:
        namespace = super().get_template_namespace()
        namespace.update(
            label_name=label_name,
            percent=percent,
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
        if self.by_script:
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"status": status_code, "error": reason}))
        else:
            self.render("error.html", status_code=status_code, reason=reason)


def label_name(name: str) -> str:
    """ "Mask worn incorrectly" for "mask_weared_incorrect": the bot's own words for its verdicts."""
    return replies.VERDICT[name][1]


def percent(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}%}"


def local_path(target: str) -> str:
    """Where to go after logging in: a path on this site, never another site (`//evil`, `https:`)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
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
        target = local_path(self.get_body_argument("next", "/"))
        if not token_matches(self.get_body_argument("token", ""), self.console.token):
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

        def read():
            def listed(**more):
                return {"status": chosen.status, "label": chosen.label, "model_version": chosen.model, **more}

            return (
                repository.feedback_items(
                    **listed(with_crop=True, limit=PAGE_SIZE, offset=(chosen.page - 1) * PAGE_SIZE)
                ),
                repository.count_feedback(**listed(with_crop=True)),
                repository.count_feedback(**listed()),
                repository.feedback_model_versions(),
            )

        items, total, total_with_and_without_crop, versions = await self.blocking(read)
        self.render(
            "review.html",
            section="review",
            items=items,
            chosen=chosen,
            total=total,
            without_crop=total_with_and_without_crop - total,
            versions=versions,
            pages=max(1, -(-total // PAGE_SIZE)),
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
        if not all(value.isdigit() and len(value) <= 18 for value in raw):
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


class DriftHandler(ConsoleHandler):
    async def get(self) -> None:
        days = self.integer("days", 7, 1, MAX_DAYS)
        stats = await self.blocking(self.console.repository.recent_stats, days)
        levels = [row.drift_level for row in stats.per_day]
        worst = "drift" if "drift" in levels else "watch" if "watch" in levels else "none"
        self.render("drift.html", section="drift", stats=stats, days=days, worst=worst)


class DriftChartHandler(ConsoleHandler):
    page = False

    async def get(self) -> None:
        days = self.integer("days", 7, 1, MAX_DAYS)

        def draw() -> bytes:
            return stats_chart(self.console.repository.recent_stats(days), Translator(DEFAULT_LANGUAGE))

        self.set_header("Content-Type", "image/png")
        self.finish(await self.blocking(draw))


def score_sets(versions) -> list[str]:
    """The evaluation sets any version was scored on, in the order they first appear."""
    names: dict[str, None] = {}
    for info in versions:
        names.update(dict.fromkeys(info.metadata.get("metrics", {})))
    return list(names)


class ModelsHandler(ConsoleHandler):
    async def get(self) -> None:
        try:
            registry = await self.blocking(self.console.registry)
            versions, history = await self.blocking(lambda: (registry.versions(), registry.history()))
        except RegistryError as error:
            self.render("models.html", section="models", error=str(error), done=None)
            return
        try:
            rollback_to: str | None = await self.blocking(registry.rollback_target)
        except RegistryError:
            rollback_to = None
        self.render(
            "models.html",
            section="models",
            error=None,
            versions=versions,
            history=list(reversed(history)),
            sets=score_sets(versions),
            rollback_to=rollback_to,
            done=self.get_argument("done", "")[:300] or None,
        )


class RegistryActionHandler(ConsoleHandler):
    """Promote and roll back: a GET shows what would change and why; only the POST changes it."""

    async def registry_or_error(self) -> Registry:
        try:
            return await self.blocking(self.console.registry)
        except RegistryError as error:
            raise tornado.web.HTTPError(409, str(error)) from None

    def reason(self, default: str) -> str:
        return " ".join(self.get_body_argument("reason", "").split())[:MAX_REASON] or default

    def done(self, note: str) -> None:
        log.info("event=console_registry %s", note)
        if self.by_script:
            self.finish({"done": note})
        else:
            self.redirect("/models?" + urlencode({"done": note}), status=303)


class PromoteHandler(RegistryActionHandler):
    async def versions(self):
        registry = await self.registry_or_error()
        versions = {info.name: info for info in await self.blocking(registry.versions)}
        name = self.get_argument("version", "")
        if name not in versions:
            raise tornado.web.HTTPError(404, "no such model version")
        champion = next(info for info in versions.values() if info.status == "champion")
        return registry, versions[name], champion

    async def get(self) -> None:
        _, chosen, champion = await self.versions()
        self.render(
            "promote.html",
            section="models",
            chosen=chosen,
            champion=champion,
            sets=score_sets([champion, chosen]),
        )

    async def post(self) -> None:
        registry, chosen, champion = await self.versions()
        if chosen.name == champion.name:
            raise tornado.web.HTTPError(409, f"{chosen.name} is the champion already")
        reason = self.reason("operator's decision")
        await self.blocking(lambda: registry.promote(chosen.name, f"promoted in the console: {reason}", forced=True))
        self.done(
            f"{chosen.name} is the champion now (was {champion.name}); bots switch on /reload or at the daily job."
        )


class RollbackHandler(RegistryActionHandler):
    async def versions(self):
        registry = await self.registry_or_error()
        try:
            target = await self.blocking(registry.rollback_target)
        except RegistryError as error:
            raise tornado.web.HTTPError(409, str(error)) from None
        versions = {info.name: info for info in await self.blocking(registry.versions)}
        champion = next(info for info in versions.values() if info.status == "champion")
        return registry, versions[target], champion

    async def get(self) -> None:
        _, target, champion = await self.versions()
        self.render(
            "rollback.html", section="models", target=target, champion=champion, sets=score_sets([champion, target])
        )

    async def post(self) -> None:
        registry, target, champion = await self.versions()
        reason = self.reason("operator's decision")
        await self.blocking(registry.rollback, f"rolled back in the console: {reason}")
        self.done(
            f"{target.name} is the champion again (was {champion.name}); bots switch on /reload or at the daily job."
        )


def make_app(console: Console) -> tornado.web.Application:
    return tornado.web.Application(
        [
            (r"/", HomeHandler),
            (r"/healthz", HealthHandler),
            (r"/login", LoginHandler),
            (r"/logout", LogoutHandler),
            (r"/review", ReviewHandler),
            (r"/crops/([0-9]{1,18})\.png", CropHandler),
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
        login_url="/login",
    )


async def serve(console: Console, host: str, port: int, behind_proxy: bool = False) -> None:
    """Serve until SIGINT or SIGTERM, then finish the requests in flight."""
    server = HTTPServer(make_app(console), xheaders=behind_proxy)
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
