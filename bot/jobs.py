"""Scheduled work in python-telegram-bot's JobQueue: daily summaries with drift alerts, retention."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta, timezone

from telegram.constants import ParseMode
from telegram.ext import Application, ContextTypes

from bot import replies
from bot.handlers.common import metrics_of, service_of, settings_of
from storage import summaries
from storage.chart import stats_chart
from storage.repository import utc_now

log = logging.getLogger("bot.jobs")


async def daily_summary(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Summarise every finished day not yet summarised; alert admins about watch or drift days."""
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
    if not days or not settings.admin_ids:
        return
    stats = await service.stats(max(7, (utc_now().date() - days[0]).days + 1))
    alarming = [row for row in stats.per_day
                if row["drift_level"] in ("watch", "drift") and row["day"] in {d.isoformat() for d in days}]
    if not alarming:
        return
    chart = await loop.run_in_executor(None, stats_chart, stats)
    for admin_id in settings.admin_ids:
        for row in alarming:
            await context.bot.send_message(admin_id, replies.drift_alert(row), parse_mode=ParseMode.HTML)
        await context.bot.send_photo(admin_id, chart, caption="Photos checked per day; triangles mark drift")


async def purge(context: ContextTypes.DEFAULT_TYPE) -> None:
    service = service_of(context)
    days = settings_of(context).retention_days
    purged = await asyncio.get_running_loop().run_in_executor(None, service.repository.purge_older_than, days)
    log.info("event=purge days=%d predictions=%d feedback=%d crops=%d", days, purged.predictions,
             purged.feedback, purged.crops)


def schedule(application: Application) -> None:
    settings = application.bot_data["settings"]
    at = settings.summary_time.replace(tzinfo=timezone.utc)
    application.job_queue.run_daily(daily_summary, time=at, name="daily_summary")
    application.job_queue.run_daily(purge, time=at, name="purge")
    # Catch up on days missed while the bot was down, right after start-up.
    application.job_queue.run_once(daily_summary, when=timedelta(seconds=1), name="catch_up")
    application.job_queue.run_once(purge, when=timedelta(seconds=2), name="startup_purge")
