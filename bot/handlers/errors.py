"""The error handler: log with context (never user ids), tell the user, keep running."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import RetryAfter

from bot import replies
from bot.context import BotContext
from bot.handlers.common import sender_id
from bot.i18n import DEFAULT_LANGUAGE, translator
from bot.ratelimit import ChatFlooded

log = logging.getLogger("bot.errors")


async def on_error(update: object, context: BotContext) -> None:
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    if isinstance(error, ChatFlooded):
        # A group past its send budget (bot.ratelimit): the reply is dropped on purpose, and an
        # apology would be refused the same way.
        log.info("event=reply_dropped update_id=%s reason=group_budget", update_id)
        context.bot_data.metrics.errors.labels(kind="reply_dropped").inc()
        return
    log.error("event=handler_error update_id=%s error=%s", update_id, type(error).__name__, exc_info=error)
    context.bot_data.metrics.errors.labels(kind=type(error).__name__).inc()
    # A chat under Telegram's flood control would only be sent one more refused message.
    if isinstance(update, Update) and update.effective_message is not None and not isinstance(error, RetryAfter):
        try:
            sender, user = sender_id(update), update.effective_user
            # An error's context is a fresh one: the sender's language is looked up again.
            language = DEFAULT_LANGUAGE
            if sender is not None:
                code = user.language_code if user is not None else None
                language = await context.bot_data.service.languages.language_of(sender, code)
            await update.effective_message.reply_text(translator(language)(replies.ERROR))
        except Exception as reply_error:  # the Bot API itself may be what failed
            log.warning("event=error_reply_failed update_id=%s error=%s", update_id, type(reply_error).__name__)
