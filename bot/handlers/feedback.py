"""The "Right" / "Wrong" buttons: which label is right, and may the face crop be kept."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from bot import replies
from bot.handlers.common import service_of, with_retry
from storage.repository import CLASS_NAMES

log = logging.getLogger("bot.feedback")
THANKS = "\n\n<i>Thanks for your feedback!</i>"
NOT_YOURS = "Only the person who sent this photo can rate the answer."


def labels_keyboard(prediction_id: int, predicted: str | None) -> InlineKeyboardMarkup:
    choices = [InlineKeyboardButton(replies.LABEL_BUTTONS[name], callback_data=f"fb|{prediction_id}|is|{index}")
               for index, name in enumerate(CLASS_NAMES) if name != predicted]
    return InlineKeyboardMarkup([choices])


def consent_keyboard(prediction_id: int, answer: str) -> InlineKeyboardMarkup:
    """`answer` is "right" or the index of the corrected label."""
    return InlineKeyboardMarkup([[
        InlineKeyboardButton("Yes, share the face crop", callback_data=f"fb|{prediction_id}|share|{answer}|1"),
        InlineKeyboardButton("No, don't", callback_data=f"fb|{prediction_id}|share|{answer}|0"),
    ]])


CONSENT_QUESTION = "May I keep the 128x128 face crop to improve the model?"


def _predicted_label(text: str) -> str | None:
    first_line = text.splitlines()[0] if text else ""
    for name, (_, phrase) in replies.VERDICT.items():
        if phrase in first_line:
            return name
    return None


async def on_feedback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    service = service_of(context)
    parts = (query.data or "").split("|")
    try:
        prediction_id = int(parts[1])
        action = parts[2]
    except (IndexError, ValueError):
        await query.answer()
        return
    user_id = update.effective_user.id
    message = query.message
    if not await service.owns(prediction_id, user_id):
        await with_retry(lambda: query.answer(NOT_YOURS, show_alert=True))
        return
    if action == "no":
        await with_retry(lambda: query.answer("Which answer is right?"))
        await with_retry(lambda: query.edit_message_reply_markup(
            labels_keyboard(prediction_id, _predicted_label(message.text or ""))))
        return
    if action in ("is", "ok"):
        answer = "right" if action == "ok" else str(int(parts[3]))
        await with_retry(lambda: query.answer(CONSENT_QUESTION))
        await with_retry(lambda: query.edit_message_reply_markup(consent_keyboard(prediction_id, answer)))
        return
    if action == "share":
        right = parts[3] == "right"
        stored = await service.feedback(prediction_id, user_id, is_correct=right,
                                        corrected_label=None if right else CLASS_NAMES[int(parts[3])],
                                        share_crop=parts[4] == "1")
    else:
        await query.answer()
        return
    if not stored:
        await with_retry(lambda: query.answer(NOT_YOURS, show_alert=True))
        return
    log.info("event=feedback update_id=%s action=%s", update.update_id, action)
    await with_retry(lambda: query.answer("Thank you!"))
    await with_retry(lambda: query.edit_message_text((message.text_html or "") + THANKS, parse_mode=ParseMode.HTML))


def register(application: Application) -> None:
    application.add_handler(CallbackQueryHandler(on_feedback, pattern=r"^fb\|"))
