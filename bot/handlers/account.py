"""/start, /help, /privacy, /forget, /language, and the answer to commands nobody knows."""

from __future__ import annotations

import logging

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import CallbackQueryHandler, MessageHandler, filters

from bot import replies
from bot.callbacks import ForgetButton, LanguageButton, Prefix, decode_forget, decode_language, matches
from bot.context import BotApplication, BotContext
from bot.handlers.common import AdminCheckFailed, group_of_admin_presser, sender_id, with_retry
from bot.i18n import LANGUAGES, language_for, translator

log = logging.getLogger("bot.account")


async def on_start(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    await with_retry(lambda: message.reply_text(context.t(replies.START)))


async def on_privacy(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    text = replies.privacy(context.bot_data.settings.retention_days, context.t)
    await with_retry(lambda: message.reply_text(text))


async def on_forget(update: Update, context: BotContext) -> None:
    sender, message = sender_id(update), update.effective_message
    if sender is None or message is None:  # nobody's data to delete
        return
    t = context.t
    sender_chat = update.effective_sender
    if isinstance(sender_chat, Chat) and sender_chat.type == Chat.CHANNEL:
        # Telegram never says who posts as a channel: nobody could confirm its prompt.
        text = t(replies.FORGET_CHANNEL).format(days=context.bot_data.settings.retention_days)
        await with_retry(lambda: message.reply_text(text))
        return
    service = context.bot_data.service
    requester, chat = service.button_tags.requester(sender), service.button_tags.chat(message.chat_id)
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t(replies.FORGET_YES), callback_data=ForgetButton(True, requester, chat).encode()),
                InlineKeyboardButton(
                    t(replies.FORGET_CANCEL), callback_data=ForgetButton(False, requester, chat).encode()
                ),
            ]
        ]
    )
    await with_retry(lambda: message.reply_text(t(replies.FORGET_CONFIRM), reply_markup=keyboard))


async def on_forget_answer(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None:
        return
    service = context.bot_data.service
    button = decode_forget(query.data)
    sender = sender_id(update)
    # A prompt works only in the chat it was shown in (never under an inline message).
    chat = query.message.chat if isinstance(query.message, Message) else None
    if button is None or sender is None or chat is None or button.chat != service.button_tags.chat(chat.id):
        await with_retry(lambda: query.answer(context.t(replies.BUTTON_EXPIRED)))
        return
    # In a group anyone sees the prompt; only its requester may answer it (for an anonymous
    # admin's /forget, the group's: one of its admins).
    if button.requester != service.button_tags.requester(sender):
        try:
            group = (
                await group_of_admin_presser(update)
                if button.requester == service.button_tags.requester(chat.id)
                else None
            )
        except AdminCheckFailed:
            await with_retry(lambda: query.answer(context.t(replies.ADMIN_CHECK_FAILED), show_alert=True))
            return
        if group is None:
            await with_retry(lambda: query.answer(context.t(replies.NOT_YOUR_FORGET), show_alert=True))
            return
        sender = group
    await with_retry(lambda: query.answer())
    if not button.confirm:
        await with_retry(lambda: query.edit_message_text(context.t(replies.NOTHING_DELETED)))
        return
    # Deleting waits for the requester's photos being decoded, if any: say so at once.
    await with_retry(lambda: query.edit_message_text(context.t(replies.DELETING)))
    forgotten = await service.forgetting.forget(sender)
    log.info(
        "event=forget update_id=%s predictions=%d feedback=%d crops=%d",
        update.update_id,
        forgotten.predictions,
        forgotten.feedback,
        forgotten.crops,
    )
    # The language choice went with everything else: the answer is in the client's language.
    t = translator(language_for(query.from_user.language_code))
    await with_retry(lambda: query.edit_message_text(replies.forgotten(forgotten, t)))


async def on_language(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton(name, callback_data=LanguageButton(code).encode()) for code, name in LANGUAGES.items()]]
    )
    await with_retry(lambda: message.reply_text(context.t(replies.LANGUAGE_CHOICE), reply_markup=keyboard))


async def on_language_answer(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None:
        return
    button = decode_language(query.data)
    sender = sender_id(update)
    if button is None or sender is None:
        await with_retry(lambda: query.answer(context.t(replies.BUTTON_EXPIRED)))
        return
    await context.bot_data.service.languages.choose(sender, button.language)
    log.info("event=language_chosen update_id=%s language=%s", update.update_id, button.language)
    t = translator(button.language)
    await with_retry(lambda: query.answer())
    await with_retry(lambda: query.edit_message_text(t(replies.LANGUAGE_SET)))


async def on_unknown_command(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    await with_retry(lambda: message.reply_text(context.t(replies.UNKNOWN_COMMAND)))


async def on_anything_else(update: Update, context: BotContext) -> None:
    """Locations, contacts, polls, dice...: never silence."""
    message = update.effective_message
    if message is not None:
        await with_retry(lambda: message.reply_text(context.t(replies.OTHER_CONTENT["other"])))


def register(application: BotApplication) -> None:
    """The /forget and /language buttons; the commands are bot.handlers.commands'."""
    application.add_handler(CallbackQueryHandler(on_forget_answer, pattern=matches(Prefix.FORGET)))
    application.add_handler(CallbackQueryHandler(on_language_answer, pattern=matches(Prefix.LANGUAGE)))


async def on_unknown_button(update: Update, context: BotContext) -> None:
    """A button this bot never made (or one from a version long gone): answered, so the client
    stops its spinner, and nothing else."""
    query = update.callback_query
    if query is None:
        return
    log.info("event=malformed_callback update_id=%s", update.update_id)
    await with_retry(lambda: query.answer(context.t(replies.BUTTON_EXPIRED)))


def register_fallbacks(application: BotApplication) -> None:
    application.add_handler(CallbackQueryHandler(on_unknown_button))
    application.add_handler(MessageHandler(filters.COMMAND, on_unknown_command))
    application.add_handler(MessageHandler(filters.ALL & ~filters.StatusUpdate.ALL, on_anything_else))
