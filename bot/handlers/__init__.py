"""Handlers grouped by concern; `register` wires them into an Application in priority order."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, TypeHandler, filters

from bot.handlers import account, admin, errors, feedback, photos
from bot.handlers.common import metrics_of

log = logging.getLogger("bot.handlers")
CONTENT_KINDS = ("photo", "document", "sticker", "animation", "video", "video_note", "voice", "audio", "location",
                 "contact")


def update_kind(update: Update) -> str:
    if update.callback_query is not None:
        return "callback"
    message = update.effective_message
    if message is None:
        return "other"
    if message.text:
        return "command" if message.text.startswith("/") else "text"
    return next((kind for kind in CONTENT_KINDS if getattr(message, kind, None)), "other")


async def count_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    metrics_of(context).updates.labels(kind=update_kind(update)).inc()


async def ignore(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Channel posts have no sender to answer or to pseudonymise, and an edited message was
    already answered when it was sent: both are logged and left alone."""
    log.info("event=ignored update_id=%s kind=%s", update.update_id,
             "channel_post" if update.channel_post or update.edited_channel_post else "edited_message")


def register(application: Application, admin_ids: frozenset[int]) -> None:
    # Group -1 runs before every other handler and lets the update continue to them.
    application.add_handler(TypeHandler(Update, count_update), group=-1)
    application.add_handler(MessageHandler(filters.UpdateType.CHANNEL_POSTS | filters.UpdateType.EDITED, ignore))
    account.register(application)
    admin.register(application, admin_ids)
    feedback.register(application)
    photos.register(application)
    account.register_fallbacks(application)
    application.add_error_handler(errors.on_error)
