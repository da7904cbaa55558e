"""Admin commands. For anyone else they do not exist: the unknown-command answer, nothing more."""

from __future__ import annotations

import asyncio
import logging

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import Application, CommandHandler, ContextTypes, filters

from bot import replies
from bot.handlers.common import metrics_of, service_of, with_retry
from storage.chart import stats_chart

log = logging.getLogger("bot.admin")
MAX_DAYS = 365


async def on_stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    days = 7
    if context.args:
        try:
            days = int(context.args[0])
        except ValueError:
            days = 0
        if not 1 <= days <= MAX_DAYS:
            await with_retry(lambda: update.effective_message.reply_text(
                f"Usage: /stats [days], with days from 1 to {MAX_DAYS}."))
            return
    service = service_of(context)
    stats = await service.stats(days)
    chart = await asyncio.get_running_loop().run_in_executor(None, stats_chart, stats)
    text = replies.stats_table(stats, service.model_version)
    await with_retry(lambda: update.effective_message.reply_text(text, parse_mode=ParseMode.HTML))
    await with_retry(lambda: update.effective_message.reply_photo(chart, caption=f"Last {days} day(s)"))


async def on_drift(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    stats = await service_of(context).stats(7)
    text = replies.drift_report(stats.per_day)
    await with_retry(lambda: update.effective_message.reply_text(text, parse_mode=ParseMode.HTML))


async def on_model(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    text = replies.model_card(service_of(context).model_summary())
    await with_retry(lambda: update.effective_message.reply_text(text, parse_mode=ParseMode.HTML))


async def on_reload(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    before, now = await service_of(context).reload()
    metrics_of(context).set_model(now)
    text = f"Now answering with model {now} (was {before})." if now != before else \
        f"Model {now} is already the champion; nothing to reload."
    await with_retry(lambda: update.effective_message.reply_text(text))


ADMIN_COMMANDS = {"stats": on_stats, "drift": on_drift, "model": on_model, "reload": on_reload}


def register(application: Application, admin_ids: frozenset[int]) -> None:
    only_admins = filters.User(user_id=admin_ids)  # matches nobody when there are no admins
    for name, handler in ADMIN_COMMANDS.items():
        application.add_handler(CommandHandler(name, handler, filters=only_admins))
