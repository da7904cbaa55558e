"""Scheduled work in python-telegram-bot's JobQueue: daily summaries with drift alerts, retention;
and the admins' alerts (drift, a champion that cannot load)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, timedelta

from telegram import Bot
from telegram.error import TelegramError

from bot import replies
from bot.charts import stats_chart
from bot.context import BotApplication, BotContext, BotData
from bot.i18n import Translator, translator
from storage import cameras
from storage.repository import day_bounds, utc_now

log = logging.getLogger("bot.jobs")


EXPIRE_CROPS_EVERY = timedelta(minutes=10)
ALERT_WINDOW_DAYS = 7
"""Alerts are claimed for watch or drift days this recent; older ones are news to nobody."""


async def alert_admins(
    bot_data: BotData, send: Callable[[int, Translator], Awaitable[object]], event: str, skip: int | None = None
) -> None:
    """`send(admin_id, t)` for every admin but `skip`, `t` in that admin's language."""
    for admin_id in bot_data.settings.admin_ids - {skip}:
        # A job has no update to take a language from: the admin's /language choice, or English.
        t = translator(await bot_data.service.languages.language_of(admin_id, None))
        try:
            await send(admin_id, t)
        except TelegramError as error:  # an admin who blocked the bot must not cost the others their alert
            log.warning("event=%s_failed error=%s", event, type(error).__name__)


async def alert_model_failures(bot: Bot, bot_data: BotData, skip: int | None = None) -> None:
    """Tell admins (but `skip`, who asked) that the champion cannot load, and what answers instead."""
    service = bot_data.service
    failures, now = service.model.failures, service.model.version
    await alert_admins(
        bot_data,
        lambda admin_id, t: bot.send_message(admin_id, replies.model_unusable(failures, now, t)),
        "model_alert",
        skip,
    )


async def daily_summary(context: BotContext) -> None:
    """Load the registry's champion if it changed; summarise every finished day not yet
    summarised; alert admins about watch or drift days, once per day and model version whichever
    replica gets there first."""
    service = context.bot_data.service
    settings = context.bot_data.settings
    # The summary and the drift alerts never wait on the model: whatever goes wrong loading it is
    # logged, and the day is summarised all the same (the purge is a job of its own).
    try:
        reloaded = await service.model.reload()
        if reloaded.news:
            await alert_model_failures(context.bot, context.bot_data)
    except Exception:
        log.exception("event=model_check_failed")
    days = await service.records.summarise_days(service.model.class_mix)
    log.info("event=daily_summary days=%d", len(days))
    if not settings.admin_ids:
        return
    await camera_day(context)
    claimed = await service.records.claim_drift_alerts(utc_now().date() - timedelta(days=ALERT_WINDOW_DAYS))
    log.info("event=drift_claims days=%d", len(claimed))
    if not claimed:
        return
    stats = await service.records.stats(ALERT_WINDOW_DAYS + 1)
    alarming = [row for row in stats.per_day if (row.day, row.model_version) in claimed]
    charts: dict[str, bytes] = {}

    async def send(admin_id: int, t: Translator) -> None:
        if t.language not in charts:
            charts[t.language] = await service.lanes.run_blocking(stats_chart, stats, t)
        for row in alarming:
            await context.bot.send_message(admin_id, replies.drift_alert(row, t))
        await context.bot.send_photo(admin_id, charts[t.language], caption=t(replies.DRIFT_CHART_CAPTION))

    await alert_admins(context.bot_data, send, "drift_alert")
    log.info("event=drift_alert days=%d admins=%d", len(alarming), len(settings.admin_ids))


async def camera_day(context: BotContext) -> None:
    """Yesterday's line per camera for the admins, sent by whichever replica claims it first."""
    service = context.bot_data.service
    database = service.repository.database
    day = utc_now().date() - timedelta(days=1)
    tallies = await service.lanes.in_database(cameras.tallies, database, *day_bounds(day))
    claimed = bool(tallies) and await service.lanes.in_database(
        cameras.claim, database, f"cameras {day.isoformat()}", utc_now()
    )
    log.info("event=camera_day cameras=%d claimed=%s", len(tallies), claimed)
    if claimed:
        await alert_admins(
            context.bot_data,
            lambda admin_id, t: context.bot.send_message(admin_id, replies.cameras_day(day, tallies, t)),
            "camera_day",
        )


async def purge(context: BotContext) -> None:
    days = context.bot_data.settings.retention_days
    purged = await context.bot_data.service.records.purge(days)
    log.info(
        "event=purge days=%d predictions=%d feedback=%d crops=%d",
        days,
        purged.predictions,
        purged.feedback,
        purged.crops,
    )


async def expire_crops(context: BotContext) -> None:
    expired = await context.bot_data.service.records.expire_crops()
    if expired:
        log.info("event=crops_expired count=%d", expired)


def schedule(application: BotApplication) -> None:
    settings = application.bot_data.settings
    at = settings.summary_time.replace(tzinfo=UTC)
    job_queue = application.job_queue
    if job_queue is None:  # python-telegram-bot without its job-queue extra (APScheduler)
        raise RuntimeError("the scheduled jobs need python-telegram-bot[job-queue]")
    job_queue.run_daily(daily_summary, time=at, name="daily_summary")
    job_queue.run_daily(purge, time=at, name="purge")
    # Crops nobody agreed to share go within minutes of their hour, whichever replica is up.
    job_queue.run_repeating(expire_crops, interval=EXPIRE_CROPS_EVERY, first=EXPIRE_CROPS_EVERY, name="expire_crops")
    # Catch up on days missed while the bot was down, right after start-up.
    job_queue.run_once(daily_summary, when=timedelta(seconds=1), name="catch_up")
    job_queue.run_once(purge, when=timedelta(seconds=2), name="startup_purge")
