"""Every inline keyboard the bot shows under its answers; button texts come from bot.replies. A
`token` stands for one prediction in the chat the keyboard is shown in (bot.callbacks.RowTokens)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import replies
from bot.callbacks import FeedbackButton
from bot.i18n import Translator
from model import CLASS_NAMES

FACES_PER_ROW = 5


def rate(
    token: str, t: Translator, number: int | None = None, why: bool = False, everyone: bool = False
) -> InlineKeyboardMarkup:
    """Right / Wrong for one answer, and Why? when the answer can be explained; with `number`, for
    that face of a group photo, and a way back; with `everyone`, under the answer about a photo's
    main face, a button for the group answer about every face."""
    answers = [(replies.RIGHT, "ok"), (replies.WRONG, "no")] + ([(replies.WHY, "why")] if why else [])
    rows = [
        [
            InlineKeyboardButton(
                t(text) if number is None else replies.face_button(number, text, t),
                callback_data=FeedbackButton(token, action).encode(),
            )
            for text, action in answers
        ]
    ]
    if number is not None:
        rows.append([InlineKeyboardButton(t(replies.ALL_FACES), callback_data=FeedbackButton(token, "faces").encode())])
    if everyone:
        rows.append(
            [InlineKeyboardButton(t(replies.CHECK_EVERYONE), callback_data=FeedbackButton(token, "everyone").encode())]
        )
    return InlineKeyboardMarkup(rows)


def everyone(token: str, t: Translator) -> InlineKeyboardMarkup:
    """Only the way from the answer about a photo's main face to the group answer."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t(replies.CHECK_EVERYONE), callback_data=FeedbackButton(token, "everyone").encode())]]
    )


def faces(numbered: tuple[tuple[int, str], ...]) -> InlineKeyboardMarkup:
    """A button per face of a group photo, by its number: (number, token) pairs."""
    buttons = [
        InlineKeyboardButton(str(number), callback_data=FeedbackButton(token, "face").encode())
        for number, token in numbered
    ]
    return InlineKeyboardMarkup([buttons[i : i + FACES_PER_ROW] for i in range(0, len(buttons), FACES_PER_ROW)])


def labels(token: str, predicted: str, t: Translator) -> InlineKeyboardMarkup:
    """The labels the answer could have been instead."""
    choices = [
        InlineKeyboardButton(t(replies.VERDICT[name][1]), callback_data=FeedbackButton(token, "is", name).encode())
        for name in CLASS_NAMES
        if name != predicted
    ]
    return InlineKeyboardMarkup([choices])


def consent(token: str, label: str | None, t: Translator) -> InlineKeyboardMarkup:
    """May the face crop be kept; `label` is None after "Right", else the label the user chose."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t(replies.SHARE_YES), callback_data=FeedbackButton(token, "share", label, True).encode()
                ),
                InlineKeyboardButton(
                    t(replies.SHARE_NO), callback_data=FeedbackButton(token, "share", label, False).encode()
                ),
            ]
        ]
    )
