"""Scheduled work in python-telegram-bot's JobQueue: daily summaries with drift alerts, retention."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta, timezone

from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes

from bot import replies
from bot.handlers.common import metrics_of, service_of, settings_of
from storage import summaries
from storage.chart import stats_chart
from storage.repository import utc_now

log = logging.getLogger("bot.jobs")


EXPIRE_CROPS_EVERY = timedelta(minutes=10)
ALERT_WINDOW_DAYS = 7
"""Alerts are claimed for watch or drift days this recent; older ones are news to nobody."""


async def daily_summary(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Summarise every finished day not yet summarised; alert admins about watch or drift days,
    once per day and model version whichever replica gets there first."""
    service = service_of(context)
    settings = settings_of(context)
    before, now = await service.reload()
    if now != before:
        metrics_of(context).set_model(now)
    reference = service.predictor.metadata.get("class_mix")
    database = service.repository.database
    loop = asyncio.get_running_loop()
    days = await loop.run_in_executor(None, lambda: summaries.catch_up(database, reference=reference))
    log.info("event=daily_summary days=%d", len(days))
    if not settings.admin_ids:
        return
    since = utc_now().date() - timedelta(days=ALERT_WINDOW_DAYS)
    claimed = await loop.run_in_executor(None, service.repository.claim_drift_alerts, since)
    log.info("event=drift_claims days=%d", len(claimed))
    if not claimed:
        return
    stats = await service.stats(ALERT_WINDOW_DAYS + 1)
    alarming = [row for row in stats.per_day if (row["day"], str(row["model_version"])) in claimed]
    chart = await loop.run_in_executor(None, stats_chart, stats)
    for admin_id in settings.admin_ids:
        try:
            for row in alarming:
                await context.bot.send_message(admin_id, replies.drift_alert(row), parse_mode=ParseMode.HTML)
            await context.bot.send_photo(admin_id, chart, caption="Photos checked per day; triangles mark drift")
        except TelegramError as error:  # an admin who blocked the bot must not cost the others their alert
            log.warning("event=drift_alert_failed error=%s", type(error).__name__)
    log.info("event=drift_alert days=%d admins=%d", len(alarming), len(settings.admin_ids))


async def purge(context: ContextTypes.DEFAULT_TYPE) -> None:
    service = service_of(context)
    days = settings_of(context).retention_days
    purged = await asyncio.get_running_loop().run_in_executor(None, service.repository.purge_older_than, days)
    log.info("event=purge days=%d predictions=%d feedback=%d crops=%d", days, purged.predictions,
             purged.feedback, purged.crops)


async def expire_crops(context: ContextTypes.DEFAULT_TYPE) -> None:
    expired = await asyncio.get_running_loop().run_in_executor(
        None, service_of(context).repository.expire_pending_crops)
    if expired:
        log.info("event=crops_expired count=%d", expired)


def schedule(application: Application) -> None:
    settings = application.bot_data["settings"]
    at = settings.summary_time.replace(tzinfo=timezone.utc)
    application.job_queue.run_daily(daily_summary, time=at, name="daily_summary")
    application.job_queue.run_daily(purge, time=at, name="purge")
    # Crops nobody agreed to share go within minutes of their hour, whichever replica is up.
    application.job_queue.run_repeating(expire_crops, interval=EXPIRE_CROPS_EVERY, first=EXPIRE_CROPS_EVERY,
                                        name="expire_crops")
    # Catch up on days missed while the bot was down, right after start-up.
    application.job_queue.run_once(daily_summary, when=timedelta(seconds=1), name="catch_up")
    application.job_queue.run_once(purge, when=timedelta(seconds=2), name="startup_purge")
