"""Handlers grouped by concern; `register` wires them into an Application in priority order."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, ContextTypes, TypeHandler

from bot.handlers import account, admin, errors, feedback, photos
from bot.handlers.common import metrics_of

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


def register(application: Application, admin_ids: frozenset[int]) -> None:
    # Group -1 runs before every other handler and lets the update continue to them.
    application.add_handler(TypeHandler(Update, count_update), group=-1)
    account.register(application)
    admin.register(application, admin_ids)
    feedback.register(application)
    photos.register(application)
    account.register_fallbacks(application)
    application.add_error_handler(errors.on_error)
