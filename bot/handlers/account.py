"""/start, /help, /privacy, /forget, and the answer to commands nobody knows."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from bot import replies
from bot.handlers.common import service_of, settings_of, with_retry

log = logging.getLogger("bot.account")


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await with_retry(lambda: update.effective_message.reply_text(replies.START, parse_mode=ParseMode.HTML))


async def on_privacy(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    text = replies.privacy(settings_of(context).retention_days)
    await with_retry(lambda: update.effective_message.reply_text(text, parse_mode=ParseMode.HTML))


async def on_forget(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes, delete everything", callback_data="forget|yes"),
                                      InlineKeyboardButton("Cancel", callback_data="forget|no")]])
    await with_retry(lambda: update.effective_message.reply_text(replies.FORGET_CONFIRM, reply_markup=keyboard))


async def on_forget_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await with_retry(lambda: query.answer())
    if query.data != "forget|yes":
        await with_retry(lambda: query.edit_message_text("Nothing was deleted."))
        return
    forgotten = await service_of(context).forget(update.effective_user.id)
    log.info("event=forget update_id=%s predictions=%d feedback=%d crops=%d", update.update_id,
             forgotten.predictions, forgotten.feedback, forgotten.crops)
    await with_retry(lambda: query.edit_message_text(replies.forgotten(forgotten)))


async def on_unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await with_retry(lambda: update.effective_message.reply_text(replies.UNKNOWN_COMMAND))


async def on_anything_else(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Locations, contacts, polls, dice...: never silence."""
    if update.effective_message is not None:
        await with_retry(lambda: update.effective_message.reply_text(replies.OTHER_CONTENT["other"]))


def register(application: Application) -> None:
    application.add_handler(CommandHandler(["start", "help"], on_start))
    application.add_handler(CommandHandler("privacy", on_privacy))
    application.add_handler(CommandHandler("forget", on_forget))
    application.add_handler(CallbackQueryHandler(on_forget_answer, pattern=r"^forget\|"))


def register_fallbacks(application: Application) -> None:
    application.add_handler(MessageHandler(filters.COMMAND, on_unknown_command))
    application.add_handler(MessageHandler(filters.ALL & ~filters.StatusUpdate.ALL, on_anything_else))
