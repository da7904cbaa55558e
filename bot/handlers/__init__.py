"""Handlers grouped by concern; `register` wires them into an Application in priority order."""

from __future__ import annotations

import logging
from typing import NoReturn

from telegram import Update
from telegram.ext import ApplicationHandlerStop, MessageHandler, TypeHandler, filters

from bot import replies
from bot.context import BotApplication, BotContext
from bot.handlers import account, commands, errors, feedback, photos, videos
from bot.handlers.common import GROUP_CHATS, sender_id
from bot.i18n import language_for, translator
from bot.ratelimit import Admission

log = logging.getLogger("bot.handlers")
CONTENT_KINDS = (
    "photo",
    "document",
    "sticker",
    "animation",
    "video",
    "video_note",
    "voice",
    "audio",
    "location",
    "contact",
)


def update_kind(update: Update) -> str:
    if update.callback_query is not None:
        return "callback"
    message = update.effective_message
    if message is None:
        return "other"
    if message.text:
        return "command" if message.text.startswith("/") else "text"
    return next((kind for kind in CONTENT_KINDS if getattr(message, kind, None)), "other")


async def count_update(update: Update, context: BotContext) -> None:
    context.bot_data.metrics.updates.labels(kind=update_kind(update)).inc()


async def limit_update(update: Update, context: BotContext) -> None:
    """Every update of a sender counts towards a per-minute limit, and every update the bot
    answers in a group towards the group's; past either the update goes no further (one notice
    per window), so a flood costs a check, not a handler and a reply each. Photos and clips are
    limited per sender apart, before they are downloaded."""
    service = context.bot_data.service
    sender = sender_id(update)
    message = update.effective_message
    if sender is not None and not (
        message is not None
        and (
            message.photo
            or (message.document is not None and (message.document.mime_type or "").startswith("image/"))
            or videos.CLIPS.check_update(update)
        )
    ):
        admission = service.allow_update(sender)
        if not admission.allowed:
            await refuse(update, context, admission, "rate_limited", replies.RATE_LIMITED_MESSAGES)
    chat = update.effective_chat
    if (update.message or update.callback_query) and chat is not None and chat.type in GROUP_CHATS:
        admission = service.allow_group(chat.id)
        if not admission.allowed:
            await refuse(update, context, admission, "group_limited", replies.GROUP_FLOODED)


async def refuse(update: Update, context: BotContext, admission: Admission, reason: str, notice: str) -> NoReturn:
    """Stop the update; the first refusal of a window is answered with `notice`."""
    context.bot_data.metrics.errors.labels(kind=reason).inc()
    log.info(
        "event=%s update_id=%s kind=%s answered=%s",
        reason,
        update.update_id,
        update_kind(update),
        admission.first_refusal,
    )
    # The stored language choice is not looked up for a flood: the client's language serves.
    user = update.effective_user
    t = translator(language_for(user.language_code if user is not None else None))
    text = t(notice).format(seconds=max(1, round(admission.retry_in)))
    if update.callback_query is not None:
        # Answering a press sends nothing to the chat: every press is answered (the client stops
        # its spinner), the notice given once.
        await update.callback_query.answer(text if admission.first_refusal else None)
    elif admission.first_refusal and update.effective_message is not None:
        await update.effective_message.reply_text(text)
    raise ApplicationHandlerStop


async def choose_language(update: Update, context: BotContext) -> None:
    """The sender's language for every reply to this update: their /language choice, else
    their Telegram client's."""
    sender, user = sender_id(update), update.effective_user
    if sender is not None:
        code = user.language_code if user is not None else None
        context.t = translator(await context.bot_data.service.language_of(sender, code))


async def ignore(update: Update, context: BotContext) -> None:
    """Channel posts have no sender to answer or to pseudonymise, and an edited message was
    already answered when it was sent: both are logged and left alone."""
    log.info(
        "event=ignored update_id=%s kind=%s",
        update.update_id,
        "channel_post" if update.channel_post or update.edited_channel_post else "edited_message",
    )


def register(application: BotApplication, admin_ids: frozenset[int]) -> None:
    # Groups -3 to -1 run before every other handler: counting lets the update continue, the
    # rate limit may stop it, and what passes learns its sender's language.
    application.add_handler(TypeHandler(Update, count_update), group=-3)
    application.add_handler(TypeHandler(Update, limit_update), group=-2)
    application.add_handler(TypeHandler(Update, choose_language), group=-1)
    application.add_handler(MessageHandler(filters.UpdateType.CHANNEL_POSTS | filters.UpdateType.EDITED, ignore))
    commands.register(application, admin_ids)
    account.register(application)
    feedback.register(application)
    videos.register(application)
    photos.register(application)
    account.register_fallbacks(application)
    application.add_error_handler(errors.on_error)
