"""Admin commands. For anyone else they do not exist: the unknown-command answer, nothing more."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import Application, CommandHandler, filters

from bot import jobs, replies
from bot.charts import stats_chart
from bot.context import BotContext
from bot.handlers.common import with_retry

log = logging.getLogger("bot.admin")
MAX_DAYS = 365


async def on_stats(update: Update, context: BotContext) -> None:
    days = 7
    if context.args:
        try:
            days = int(context.args[0])
        except ValueError:
            days = 0
        if not 1 <= days <= MAX_DAYS:
            text = context.t(replies.STATS_USAGE).format(most=MAX_DAYS)
            await with_retry(lambda: update.effective_message.reply_text(text))
            return
    service = context.bot_data.service
    stats = await service.stats(days)
    chart = await service.run_blocking(stats_chart, stats, context.t)
    text = replies.stats_table(stats, service.model_version, context.t)
    await with_retry(lambda: update.effective_message.reply_text(text))
    await with_retry(
        lambda: update.effective_message.reply_photo(chart, caption=replies.stats_caption(days, context.t))
    )


async def on_drift(update: Update, context: BotContext) -> None:
    stats = await context.bot_data.service.stats(7)
    text = replies.drift_report(stats.per_day, context.t)
    await with_retry(lambda: update.effective_message.reply_text(text))


async def on_model(update: Update, context: BotContext) -> None:
    text = replies.model_card(context.bot_data.service.model_summary(), context.t)
    await with_retry(lambda: update.effective_message.reply_text(text))


async def on_reload(update: Update, context: BotContext) -> None:
    reloaded = await context.bot_data.service.reload()
    if reloaded.failures:
        text = replies.model_unusable(reloaded.failures, reloaded.now, context.t)
    else:
        text = replies.reloaded(reloaded.before, reloaded.now, context.t)
    await with_retry(lambda: update.effective_message.reply_text(text))
    if reloaded.news:  # the admin who asked has just been told; the others get the alert
        await jobs.alert_model_failures(context.bot, context.bot_data, skip=update.effective_user.id)


ADMIN_COMMANDS = {"stats": on_stats, "drift": on_drift, "model": on_model, "reload": on_reload}


def register(application: Application, admin_ids: frozenset[int]) -> None:
    only_admins = filters.User(user_id=admin_ids)  # matches nobody when there are no admins
    for name, handler in ADMIN_COMMANDS.items():
        application.add_handler(CommandHandler(name, handler, filters=only_admins))
