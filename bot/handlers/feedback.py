"""The "Right" / "Wrong" buttons: which label is right, and may the face crop be kept."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler

from bot import replies
from bot.callbacks import FeedbackButton, decode_feedback
from bot.context import BotContext
from bot.handlers.common import with_retry
from storage.repository import CLASS_NAMES, FeedbackOutcome

log = logging.getLogger("bot.feedback")
THANKS = "\n\n<i>Thanks for your feedback!</i>"
NOT_YOURS = "Only the person who sent this photo can rate the answer."


def labels_keyboard(prediction_id: int, predicted: str) -> InlineKeyboardMarkup:
    choices = [
        InlineKeyboardButton(replies.VERDICT[name][1], callback_data=FeedbackButton(prediction_id, "is", name).encode())
        for name in CLASS_NAMES
        if name != predicted
    ]
    return InlineKeyboardMarkup([choices])


def consent_keyboard(prediction_id: int, label: str | None) -> InlineKeyboardMarkup:
    """`label` is None after "Right", else the label the user chose."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    "Yes, share the face crop",
                    callback_data=FeedbackButton(prediction_id, "share", label, True).encode(),
                ),
                InlineKeyboardButton(
                    "No, don't", callback_data=FeedbackButton(prediction_id, "share", label, False).encode()
                ),
            ]
        ]
    )


CONSENT_QUESTION = "May I keep the 128x128 face crop to improve the model?"


async def on_feedback(update: Update, context: BotContext) -> None:
    query = update.callback_query
    service = context.bot_data.service
    button = decode_feedback(query.data)
    if button is None or update.effective_user is None:
        log.info("event=malformed_callback update_id=%s", update.update_id)
        await with_retry(lambda: query.answer(replies.BUTTON_EXPIRED))
        return
    user_id = update.effective_user.id
    message = query.message
    predicted = await service.predicted_label(button.prediction_id, user_id)
    if predicted is None:
        await with_retry(lambda: query.answer(NOT_YOURS, show_alert=True))
        return
    if button.action == "no":
        await with_retry(lambda: query.answer("Which answer is right?"))
        await with_retry(lambda: query.edit_message_reply_markup(labels_keyboard(button.prediction_id, predicted)))
        return
    if button.action in ("is", "ok"):
        await with_retry(lambda: query.answer(CONSENT_QUESTION))
        await with_retry(lambda: query.edit_message_reply_markup(consent_keyboard(button.prediction_id, button.label)))
        return
    outcome = await service.feedback(
        button.prediction_id,
        user_id,
        is_correct=button.label is None,
        corrected_label=button.label,
        share_crop=bool(button.share),
    )
    log.info("event=feedback update_id=%s outcome=%s", update.update_id, outcome.value)
    if outcome is FeedbackOutcome.NOT_YOURS:
        await with_retry(lambda: query.answer(NOT_YOURS, show_alert=True))
    elif outcome is FeedbackOutcome.ALREADY_ANSWERED:
        await with_retry(lambda: query.answer(replies.ALREADY_RATED))
    elif outcome is FeedbackOutcome.CONSENT_WITHDRAWN:
        await with_retry(lambda: query.answer(replies.CONSENT_WITHDRAWN, show_alert=True))
    else:
        await with_retry(lambda: query.answer("Thank you!"))
        await with_retry(lambda: query.edit_message_text((message.text_html or "") + THANKS))


def register(application: Application) -> None:
    application.add_handler(CallbackQueryHandler(on_feedback, pattern=r"^fb\|"))
