"""Scheduled work in python-telegram-bot's JobQueue: daily summaries with drift alerts, retention."""

from __future__ import annotations

import logging
from datetime import UTC, timedelta

from telegram.error import TelegramError
from telegram.ext import Application

from bot import replies
from bot.charts import stats_chart
from bot.context import BotContext
from bot.i18n import translator
from storage.repository import utc_now

log = logging.getLogger("bot.jobs")


EXPIRE_CROPS_EVERY = timedelta(minutes=10)
ALERT_WINDOW_DAYS = 7
"""Alerts are claimed for watch or drift days this recent; older ones are news to nobody."""


async def daily_summary(context: BotContext) -> None:
    """Summarise every finished day not yet summarised; alert admins about watch or drift days,
    once per day and model version whichever replica gets there first."""
    service = context.bot_data.service
    settings = context.bot_data.settings
    await service.reload()
    days = await service.summarise_days()
    log.info("event=daily_summary days=%d", len(days))
    if not settings.admin_ids:
        return
    claimed = await service.claim_drift_alerts(utc_now().date() - timedelta(days=ALERT_WINDOW_DAYS))
    log.info("event=drift_claims days=%d", len(claimed))
    if not claimed:
        return
    stats = await service.stats(ALERT_WINDOW_DAYS + 1)
    alarming = [row for row in stats.per_day if (row.day, row.model_version) in claimed]
    charts: dict[str, bytes] = {}
    for admin_id in settings.admin_ids:
        # A job has no update to take a language from: the admin's /language choice, or English.
        t = translator(await service.language_of(admin_id, None))
        if t.language not in charts:
            charts[t.language] = await service.run_blocking(stats_chart, stats, t)
        try:
            for row in alarming:
                await context.bot.send_message(admin_id, replies.drift_alert(row, t))
            await context.bot.send_photo(admin_id, charts[t.language], caption=t(replies.DRIFT_CHART_CAPTION))
        except TelegramError as error:  # an admin who blocked the bot must not cost the others their alert
            log.warning("event=drift_alert_failed error=%s", type(error).__name__)
    log.info("event=drift_alert days=%d admins=%d", len(alarming), len(settings.admin_ids))


async def purge(context: BotContext) -> None:
    days = context.bot_data.settings.retention_days
    purged = await context.bot_data.service.purge(days)
    log.info(
        "event=purge days=%d predictions=%d feedback=%d crops=%d",
        days,
        purged.predictions,
        purged.feedback,
        purged.crops,
    )


async def expire_crops(context: BotContext) -> None:
    expired = await context.bot_data.service.expire_crops()
    if expired:
        log.info("event=crops_expired count=%d", expired)


def schedule(application: Application) -> None:
    settings = application.bot_data.settings
    at = settings.summary_time.replace(tzinfo=UTC)
    job_queue = application.job_queue
    job_queue.run_daily(daily_summary, time=at, name="daily_summary")
    job_queue.run_daily(purge, time=at, name="purge")
    # Crops nobody agreed to share go within minutes of their hour, whichever replica is up.
    job_queue.run_repeating(expire_crops, interval=EXPIRE_CROPS_EVERY, first=EXPIRE_CROPS_EVERY, name="expire_crops")
    # Catch up on days missed while the bot was down, right after start-up.
    job_queue.run_once(daily_summary, when=timedelta(seconds=1), name="catch_up")
    job_queue.run_once(purge, when=timedelta(seconds=2), name="startup_purge")
