"""`maskbot watch`: one camera watched until its file ends or the process is told to stop.

Three threads: the reader's (decoding and sampling, `camera.source`), the judge's (faces, people,
counts, alerts due: `camera.watcher`), and the event loop's (the live view, the alerts sent through
python-telegram-bot, the signals). SIGTERM or SIGINT stop it cleanly: the people still in the
picture are counted and the last counts written before it exits.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError
from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot import replies
from bot.i18n import DEFAULT_LANGUAGE, translator
from camera import live
from camera.config import WatchSettings
from camera.source import Reader, SourceError
from camera.watcher import FLUSH_EVERY, Alert, Watcher
from model.predictor import Predictor
from model.registry import active_model_dir
from storage import cameras
from storage.database import Database
from storage.pseudonyms import Pseudonymizer, load_secret
from storage.repository import Repository, utc_now

log = logging.getLogger("camera")

STALL_SECONDS = 30.0
"""A connected source that gives no sample for this long has a stuck decoder: it is opened again."""
ANNOUNCE_EVERY = 30.0
"""Seconds between a watcher's "still here" in the database: the console shows cameras seen
within two of them as live."""
PROGRESS_EVERY = 60.0
"""Seconds between the log lines that say how the watch keeps up: frames judged, samples dropped."""
WAIT = 1.0
"""The judge's longest wait for a sample before it checks the clock (flushes, stalls, stop)."""


class LiveViewError(RuntimeError):
    """The live view's address cannot be listened on; the message is the operator's one line."""


@dataclass
class Outcome:
    """What a watch did: the operator's closing line, and the exit status."""

    frames: int = 0
    counted: dict[str, int] = field(default_factory=dict)
    failure: SourceError | None = None


def watch(source: str, name: str, settings: WatchSettings, stop: threading.Event | None = None) -> Outcome:
    """Watch `source` as camera `name` until it ends (a file), SIGTERM or SIGINT, or `stop` is set."""
    return asyncio.run(_watch(source, name, settings, stop or threading.Event()))


async def _watch(source: str, name: str, settings: WatchSettings, stop: threading.Event) -> Outcome:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    database = Database(settings.bot.database_url, legacy_crops_dir=settings.bot.crops_dir)
    predictor = Predictor(active_model_dir(settings.bot.model_dir))
    watcher = Watcher(name, predictor, database)
    reader = Reader(source, settings.fps, stop)
    board = live.Board(loop)
    server = None
    if settings.stream_port is not None and settings.console_token is not None:
        try:
            server = live.serve(board, settings.console_token, settings.stream_host, settings.stream_port)
        except OSError as error:
            database.dispose()
            raise LiveViewError(
                f"cannot serve the live view on {settings.stream_host}:{settings.stream_port}: {error.strerror}"
            ) from None
    alerts: asyncio.Queue[Alert] = asyncio.Queue()
    sender = asyncio.create_task(_send_alerts(alerts, settings, database)) if settings.alerts else None
    outcome = Outcome()
    log.info("event=watch_started camera=%s model=%s fps=%g", name, predictor.version, settings.fps)
    reader.start()
    try:
        await loop.run_in_executor(
            None,
            _judge,
            watcher,
            reader,
            board,
            stop,
            settings,
            lambda alert: loop.call_soon_threadsafe(alerts.put_nowait, alert),
        )
    finally:
        stop.set()
        if server is not None:
            server.stop()
        board.close()
        if sender is not None:
            await alerts.join()
            sender.cancel()
        database.dispose()
    outcome.frames = watcher.frames
    outcome.counted = dict(watcher.counted)
    outcome.failure = reader.failure
    return outcome


def _judge(
    watcher: Watcher,
    reader: Reader,
    board: live.Board,
    stop: threading.Event,
    settings: WatchSettings,
    alert: Callable[[Alert], object],
) -> None:
    """The judge's loop, on its own thread, until the source ends or `stop` is set."""

    database_down = False

    def in_database(work: Callable[[], object]) -> None:
        """Database work that an outage (PostgreSQL restarting) must not end the watch for:
        logged once per outage, the counts kept for the next write."""
        nonlocal database_down
        try:
            work()
        except SQLAlchemyError as error:
            if not database_down:
                log.warning("event=database_error camera=%s error=%s", watcher.name, type(error).__name__)
            database_down = True
        else:
            database_down = False

    def flush() -> None:
        if watcher.flush() and settings.alerts:
            due = watcher.alert_due(utc_now(), settings.alert_minutes, settings.alert_share, settings.alert_min_people)
            if due is not None:
                alert(due)

    last_flush = last_announce = float("-inf")
    last_progress, frames_then, dropped_then = time.monotonic(), 0, 0
    stalled = False
    while not stop.is_set():
        now = time.monotonic()
        if now - last_progress >= PROGRESS_EVERY:
            log.info(
                "event=watch_progress camera=%s judged_per_s=%.2f dropped=%d people=%d",
                watcher.name,
                (watcher.frames - frames_then) / (now - last_progress),
                reader.dropped - dropped_then,
                sum(watcher.counted.values()),
            )
            last_progress, frames_then, dropped_then = now, watcher.frames, reader.dropped
        if now - last_announce >= ANNOUNCE_EVERY:
            in_database(lambda: cameras.announce(watcher.database, watcher.name, settings.stream_url, utc_now()))
            last_announce = now
        if now - last_flush >= FLUSH_EVERY:
            in_database(flush)
            last_flush = now
        if reader.live and reader.connected and now - reader.last_sample > STALL_SECONDS:
            if not stalled:  # once per stall, not per restart
                log.warning("event=decoder_stalled camera=%s seconds=%.0f", watcher.name, now - reader.last_sample)
            stalled = True
            reader.restart()
        sample = reader.next(WAIT)
        if sample is None:
            if reader.ended:
                break
            continue
        stalled = False
        board.publish(watcher.judge(sample.pixels, sample.at))
    watcher.finish()
    in_database(flush)
    if watcher.pending:
        log.error(
            "event=counts_lost camera=%s people=%d",
            watcher.name,
            sum(sum(c.values()) for c in watcher.pending.values()),
        )


async def _send_alerts(alerts: asyncio.Queue[Alert], settings: WatchSettings, database: Database) -> None:
    """Each alert to every admin, in the language the admin chose with /language, like the bot's
    own. Whatever fails (the Bot API unreachable, a token refused, an admin who blocked the bot)
    is logged and the queue drained: a watch never waits on Telegram to stop."""
    pseudonymize = Pseudonymizer(load_secret(settings.bot.data_dir, settings.bot.secret))
    repository = Repository(database)
    bot = Bot(settings.bot.bot_token, base_url=settings.bot.api_base_url, base_file_url=settings.bot.file_base_url)
    try:
        while True:
            alert = await alerts.get()
            try:
                await bot.initialize()  # once: later calls return at once
                until = alert.window + timedelta(minutes=alert.minutes)
                for admin_id in sorted(settings.bot.admin_ids):
                    language = await asyncio.to_thread(repository.language_of, pseudonymize(admin_id))
                    t = translator(language or DEFAULT_LANGUAGE)
                    try:
                        await bot.send_message(
                            admin_id,
                            replies.camera_alert(alert.camera, alert.minutes, alert.tally, until, t),
                            parse_mode=ParseMode.HTML,
                        )
                    except TelegramError as error:  # one admin who blocked the bot costs the others nothing
                        log.warning("event=camera_alert_failed error=%s", type(error).__name__)
                log.info("event=camera_alert camera=%s people=%d", alert.camera, alert.tally.people)
            except (TelegramError, SQLAlchemyError) as error:
                log.warning("event=camera_alert_failed error=%s", type(error).__name__)
            finally:
                alerts.task_done()
    finally:
        await bot.shutdown()
