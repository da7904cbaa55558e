"""Handlers grouped by concern; `register` wires them into an Application in priority order."""

from __future__ import annotations

import logging
from typing import NoReturn

from telegram import Update
from telegram.ext import ApplicationHandlerStop, MessageHandler, TypeHandler, filters

from bot import replies
from bot.context import BotApplication, BotContext
from bot.handlers import account, commands, errors, feedback, photos, videos
from bot.handlers.common import GROUP_CHATS, sender_id, with_retry
from bot.i18n import Translator, language_for, translator
from bot.ratelimit import Limit, Refusal

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


UPLOADS = photos.IMAGES | videos.CLIPS
"""What the sender's photo budget counts (`Limit.UPLOADS`): everything the bot downloads and judges."""
NOTICES = {
    Limit.UPLOADS: replies.RATE_LIMITED,
    Limit.BUTTONS: replies.RATE_LIMITED_BUTTONS,
    Limit.UPDATES: replies.RATE_LIMITED_MESSAGES,
    Limit.GROUP: replies.GROUP_FLOODED,
}
"""What the first refusal of a window says, by the limit that refused."""


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
    """Every update of a sender counts towards a per-minute limit (photos and clips towards their
    own, before they are downloaded; button presses towards theirs, before any work), and every
    update the bot answers in a group towards the group's; past any the update goes no further
    (one notice per window), so a flood costs a check, not a handler and a reply each."""
    chat = update.effective_chat
    # Only a new message uploads: a button press's effective message is the bot's own (a group
    # photo's annotated copy, say), and edited messages are left alone (`ignore`).
    if update.callback_query is not None:
        limit = Limit.BUTTONS
    elif update.message is not None and UPLOADS.check_update(update):
        limit = Limit.UPLOADS
    else:
        limit = Limit.UPDATES
    answered_in_group = (update.message or update.callback_query) and chat is not None and chat.type in GROUP_CHATS
    refusal = context.bot_data.service.admission.admit(
        sender_id(update), limit, chat.id if answered_in_group and chat else None
    )
    if refusal is not None:
        await refuse(update, context, refusal)


async def refuse(update: Update, context: BotContext, refusal: Refusal) -> NoReturn:
    """Stop the update; the first refusal of a window is answered, in the sender's language."""
    admission = refusal.admission
    context.bot_data.metrics.errors.labels(kind=refusal.limit.reason).inc()
    log.info(
        "event=%s update_id=%s kind=%s answered=%s",
        refusal.limit.reason,
        update.update_id,
        update_kind(update),
        admission.first_refusal,
    )
    message, seconds = update.effective_message, max(1, round(admission.retry_in))
    try:
        if admission.first_refusal:
            text = (await _sender_translator(update, context))(NOTICES[refusal.limit]).format(seconds=seconds)
            # A press is answered with the notice (an answer sends nothing to the chat). The
            # other refused presses of the window get no answer, as refused messages get none:
            # answering each would spend a Bot API call per press of a flood, and the client
            # stops its spinner by itself.
            if update.callback_query is not None:
                await update.callback_query.answer(text)
            elif message is not None:
                await with_retry(lambda: message.reply_text(text))
    except Exception:
        # The notice is a courtesy; the refusal is not: a failed notice must not let the update
        # through to a download and a classification.
        log.exception("event=refusal_notice_failed update_id=%s", update.update_id)
    raise ApplicationHandlerStop


async def _sender_translator(update: Update, context: BotContext) -> Translator:
    """The sender's language: their /language choice, else their Telegram client's. A refusal
    looks it up only when it is answered: once a window."""
    sender, user = sender_id(update), update.effective_user
    code = user.language_code if user is not None else None
    if sender is None:
        return translator(language_for(code))
    return translator(await context.bot_data.service.languages.language_of(sender, code))


async def choose_language(update: Update, context: BotContext) -> None:
    """The sender's language for every reply to this update: their /language choice, else
    their Telegram client's."""
    if sender_id(update) is not None:
        context.t = await _sender_translator(update, context)


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
