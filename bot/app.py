"""Building the Application and running it until SIGTERM, in polling or webhook mode.

Both modes run the same loop: the Application processes updates from its queue while a small
HTTP server answers /healthz (and, in webhook mode, receives Telegram's POSTs, checking the
secret token before anything reaches the queue).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import signal
from urllib.parse import urlparse

import httpx
from telegram import Bot, BotCommandScopeChat, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import ApplicationBuilder, Defaults
from tornado.http1connection import HTTP1Connection
from tornado.web import HTTPError, RequestHandler, stream_request_body

from bot import handlers, jobs, web
from bot.config import ConfigError, Settings
from bot.context import CONTEXT_TYPES, BotApplication
from bot.handlers.commands import menu
from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES
from bot.memory import limit_malloc_arenas
from bot.metrics import BotMetrics
from bot.ratelimit import GroupBudgetRateLimiter, RateLimiter
from bot.service import MaskService
from bot.updates import SanitisingRequest

log = logging.getLogger("bot.app")

CONCURRENT_UPDATES = 64
MAX_WEBHOOK_BODY = 1024 * 1024
"""Telegram's updates are a few kilobytes; a larger body is refused before it is read. Other
routes take web.MAX_BODY at most."""


def build_service(settings: Settings) -> MaskService:
    """The service, answering with the registry's champion, or the last champion before it that
    loads (logged as an ERROR; admins are alerted once the bot is up, in `on_startup`)."""
    from model.registry import RegistryError, load_answering
    from storage.database import Database
    from storage.pseudonyms import Pseudonymizer, load_secret
    from storage.repository import Repository

    database = Database(settings.database_url, legacy_crops_dir=settings.crops_dir)
    repository = Repository(database)
    pseudonymize = Pseudonymizer(load_secret(settings.data_dir, settings.secret))
    answering = load_answering(settings.model_dir)
    if answering.predictor is None:  # only when told to keep a folder already answering: none is
        raise RegistryError(f"no model was loaded from {answering.path}")
    service = MaskService(
        answering.predictor,
        repository,
        pseudonymize,
        RateLimiter(settings.rate_limit_per_minute),
        model_source=settings.model_dir,
    )
    service.model.note_failures(answering.failures)
    return service


def build_application(settings: Settings, service: MaskService) -> BotApplication:
    metrics = BotMetrics()
    service.model.watch(metrics.set_model)
    malformed = metrics.errors.labels(kind="malformed_update")
    application = (
        ApplicationBuilder()
        .token(settings.bot_token)
        .base_url(settings.api_base_url)
        .base_file_url(settings.file_base_url)
        .get_updates_request(SanitisingRequest(read_timeout=30, on_malformed=malformed.inc))
        .concurrent_updates(CONCURRENT_UPDATES)
        .context_types(CONTEXT_TYPES)
        # Every text in bot.replies is HTML, escaped where it holds anything not ours.
        .defaults(Defaults(parse_mode=ParseMode.HTML))
        # Keeps to Telegram's documented flood limits (30 messages a second, 20 a minute per group)
        # before sending, never waiting for a group's window (bot.ratelimit).
        .rate_limiter(GroupBudgetRateLimiter())
        .build()
    )
    application.bot_data.settings = settings
    application.bot_data.service = service
    application.bot_data.metrics = metrics
    application.bot_data.downloads = httpx.AsyncClient(timeout=httpx.Timeout(30.0), follow_redirects=False)
    handlers.register(application, settings.admin_ids)
    return application


async def on_startup(application: BotApplication) -> None:
    """Owns start-up work that needs the Bot API: the command menus and the scheduled jobs."""
    settings = application.bot_data.settings
    # One menu per language: a client shows the one for its language, English otherwise.
    for language in LANGUAGES:
        code = None if language == DEFAULT_LANGUAGE else language
        await application.bot.set_my_commands(menu(language), language_code=code)
        for admin_id in settings.admin_ids:
            try:
                await application.bot.set_my_commands(
                    menu(language, admins=True), scope=BotCommandScopeChat(admin_id), language_code=code
                )
            except TelegramError as error:  # an admin who never opened a chat with the bot
                log.warning("event=admin_menu_failed error=%s", type(error).__name__)
    if application.bot_data.service.model.failures:
        await jobs.alert_model_failures(application.bot, application.bot_data)
    jobs.schedule(application)


async def on_shutdown(application: BotApplication) -> None:
    """Owns the resources: the inference threads and the database connections."""
    await application.bot_data.downloads.aclose()
    application.bot_data.service.close()
    log.info("event=shutdown_complete")


class BotRequestHandler(RequestHandler):
    """A tornado handler that can see the running bot application."""

    def initialize(self, bot_application: BotApplication) -> None:
        self.bot_application = bot_application


class HealthHandler(BotRequestHandler):
    def get(self) -> None:
        healthy = self.bot_application.running
        self.set_status(200 if healthy else 503)
        self.write(
            {
                "status": "ok" if healthy else "unavailable",
                "model_version": self.bot_application.bot_data.service.model.version,
            }
        )


class MetricsHandler(BotRequestHandler):
    def get(self) -> None:
        metrics = self.bot_application.bot_data.metrics
        self.set_header("Content-Type", metrics.content_type)
        self.write(metrics.render())


@stream_request_body
class WebhookHandler(RequestHandler):
    """Telegram's POSTs. The secret is checked from the headers, before any of the body is read,
    and the body is capped: a stranger's request costs a header check, not 100 MB of reading."""

    def initialize(self, bot_application: BotApplication, secret: str) -> None:
        self.bot_application = bot_application
        self.secret = secret.encode()
        self.body = bytearray()

    def prepare(self) -> None:
        given = self.request.headers.get("X-Telegram-Bot-Api-Secret-Token", "").encode()
        if self.request.method != "POST" or not hmac.compare_digest(given, self.secret):
            log.warning("event=webhook_rejected reason=%s", "method" if self.request.method != "POST" else "secret")
            raise HTTPError(403)
        if web.declared_length(self.request) > MAX_WEBHOOK_BODY:
            raise HTTPError(413)
        # Past the server's web.MAX_BODY, now that the secret says it is Telegram (a chunked body,
        # which announces no length, is cut off there too). Tornado's HTTP server serves every
        # request over an HTTP1Connection; any other kind keeps the server's limit.
        if isinstance(self.request.connection, HTTP1Connection):
            self.request.connection.set_max_body_size(MAX_WEBHOOK_BODY)

    def data_received(self, chunk: bytes) -> None:
        self.body.extend(chunk)

    async def post(self) -> None:
        update = parse_update(bytes(self.body), self.bot_application.bot)
        if update is None:
            self.bot_application.bot_data.metrics.errors.labels(kind="malformed_update").inc()
            self.set_status(400)
            return
        await self.bot_application.update_queue.put(update)
        self.set_status(200)


def parse_update(body: bytes, bot: Bot) -> Update | None:
    """An update from a webhook body, or None (logged by error type only) for anything that is
    not a JSON object Telegram could have sent: `[1, 2]`, `{"message": 5}`, no update_id, or one
    nested deeper than Python's recursion limit lets the parser or de_json follow."""
    try:
        raw = json.loads(body)
        if not isinstance(raw, dict) or not isinstance(raw.get("update_id"), int):
            raise ValueError("not an update object")
        return Update.de_json(raw, bot)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as error:
        log.warning("event=malformed_update error=%s", type(error).__name__)
        return None


def http_routes(application: BotApplication, settings: Settings) -> list[tuple[str, type[RequestHandler], dict]]:
    routes: list[tuple[str, type[RequestHandler], dict]] = [
        (r"/healthz", HealthHandler, {"bot_application": application}),
        (r"/metrics", MetricsHandler, {"bot_application": application}),
    ]
    if settings.webhook_url:
        # load_settings refuses webhook mode without a secret; Settings made any other way too.
        if not settings.webhook_secret:
            raise ConfigError("WEBHOOK_SECRET must be set in webhook mode")
        path = urlparse(settings.webhook_url).path or "/"
        routes.append((path, WebhookHandler, {"bot_application": application, "secret": settings.webhook_secret}))
    return routes


async def serve(application: BotApplication, stop: asyncio.Event | None = None) -> None:
    """Run `application` (from `build_application`) until `stop` is set or SIGTERM/SIGINT
    arrives; then finish in-flight replies and exit."""
    settings = application.bot_data.settings
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        # Not possible outside the main thread (tests) or on systems without POSIX signals.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    server = None
    if settings.port:
        # Listening before start-up lets an orchestrator see "starting" (503) rather than nothing.
        server = web.http_server(web.BodyLimitedApplication(http_routes(application, settings)), xheaders=True)
        server.listen(settings.port)
    updater = application.updater
    # As python-telegram-bot's custom-webhook example does, `async with` initializes the
    # Application and shuts it down. It calls neither post_init nor post_shutdown (only
    # run_polling and run_webhook do, and they bring their own web server and signal handling), so
    # our start-up and shut-down work is called here: on_startup once the bot is initialized,
    # on_shutdown after the Application has shut down, even when it failed to initialize.
    try:
        async with application:
            await on_startup(application)
            await application.start()
            try:
                if settings.webhook_url:
                    await application.bot.set_webhook(
                        settings.webhook_url, secret_token=settings.webhook_secret, allowed_updates=Update.ALL_TYPES
                    )
                elif updater is None:
                    raise RuntimeError("polling needs the Application's Updater (built without one)")
                else:
                    await updater.start_polling(allowed_updates=Update.ALL_TYPES)
                log.info(
                    "event=started mode=%s model=%s port=%s",
                    "webhook" if settings.webhook_url else "polling",
                    application.bot_data.service.model.version,
                    settings.port,
                )
                await stop.wait()
                log.info("event=stopping")
            finally:
                # Also when the webhook or polling could not be set up: shutting down a running
                # Application raises, and that error would hide the one that stopped the start.
                if updater is not None and updater.running:
                    await updater.stop()
                await application.stop()
    finally:
        if server is not None:
            server.stop()
            await server.close_all_connections()
        await on_shutdown(application)


QUIET_BELOW_INFO = ("telegram", "httpcore", "tornado.general")
"""At DEBUG these log whole requests and updates: user ids, names, file ids, and the Bot API URL
that holds the token. They never go below INFO, whatever LOG_LEVEL says."""


TRACEBACKS = logging.Formatter()
"""Writes tracebacks as logging's own formatters do."""


class RedactToken(logging.Filter):
    """Replaces the bot token wherever it would reach the log, at every level: in the message, and
    in an exception's text and traceback (a failed download's error names its URL, which holds the
    token) or a logged stack."""

    def __init__(self, token: str) -> None:
        super().__init__()
        # The part after the colon is the secret one; looked for alone too, in case a URL escaped the colon.
        self.secrets = [secret for secret in (token, token.partition(":")[2]) if secret]

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "<token>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        if record.exc_info and not record.exc_text:
            # What the handler's Formatter would write, formatted here so it can be redacted:
            # formatters use a record's exc_text when it has one.
            record.exc_text = TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def configure_logging(level: str, token: str = "") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactToken(token))
    for name in QUIET_BELOW_INFO:
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLevelName(level)))
    # httpx logs every request URL at INFO, and those URLs hold the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def run(settings: Settings) -> int:
    """Run until SIGTERM: 0 on a clean stop, 2 for a refused token, 1 when the API is unreachable
    or no model loads."""
    from model.registry import RegistryError

    configure_logging(settings.log_level, settings.bot_token)
    limit_malloc_arenas()
    try:
        service = build_service(settings)
    except RegistryError as error:  # no champion, present or past, loads; or the registry is unreadable
        log.critical("event=start_failed reason=%s", error)
        return 1
    application = build_application(settings, service)
    try:
        asyncio.run(serve(application))
    except InvalidToken:
        log.critical("event=start_failed reason=BOT_TOKEN was refused by the Bot API; check it with @BotFather")
        return 2
    except NetworkError as error:
        log.critical(
            "event=start_failed reason=cannot reach the Bot API at %s (%s); check the network and "
            "TELEGRAM_API_BASE_URL",
            settings.api_base_url,
            error,
        )
        return 1
    return 0
