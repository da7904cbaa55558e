"""Admin commands. For anyone else they do not exist: the unknown-command answer, nothing more
(they are registered for ADMIN_IDS only, in bot.handlers.commands)."""

from __future__ import annotations

import logging

from telegram import Update

from bot import jobs, replies
from bot.charts import stats_chart
from bot.context import BotContext
from bot.handlers.common import with_retry
from storage.stats import MAX_DAYS

log = logging.getLogger("bot.admin")


async def on_stats(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    days = 7
    if context.args:
        try:
            days = int(context.args[0])
        except ValueError:
            days = 0
        if not 1 <= days <= MAX_DAYS:
            text = context.t(replies.STATS_USAGE).format(most=MAX_DAYS)
            await with_retry(lambda: message.reply_text(text))
            return
    service = context.bot_data.service
    stats = await service.records.stats(days)
    chart = await service.lanes.run_blocking(stats_chart, stats, context.t)
    text = replies.stats_table(stats, service.model.version, context.t)
    await with_retry(lambda: message.reply_text(text))
    await with_retry(lambda: message.reply_photo(chart, caption=replies.stats_caption(days, context.t)))


async def on_drift(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    stats = await context.bot_data.service.records.stats(7)
    text = replies.drift_report(stats.per_day, context.t)
    await with_retry(lambda: message.reply_text(text))


async def on_model(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    text = replies.model_card(context.bot_data.service.model.summary(), context.t)
    await with_retry(lambda: message.reply_text(text))


async def on_reload(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None:
        return
    reloaded = await context.bot_data.service.model.reload()
    if reloaded.failures:
        text = replies.model_unusable(reloaded.failures, reloaded.now, context.t)
    else:
        text = replies.reloaded(reloaded.before, reloaded.now, context.t)
    await with_retry(lambda: message.reply_text(text))
    if reloaded.news:  # the admin who asked has just been told; the others get the alert
        skip = user.id if user is not None else None
        await jobs.alert_model_failures(context.bot, context.bot_data, skip=skip)
