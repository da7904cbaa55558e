"""The "Right" / "Wrong" buttons (per face on a group photo): which label is right, and may the
face crop be kept; and "Why?": where the network looked."""

from __future__ import annotations

import logging
import tempfile

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, ReplyParameters, Update
from telegram.error import BadRequest
from telegram.ext import CallbackQueryHandler

from bot import keyboards, replies
from bot.callbacks import Prefix, decode_feedback, matches
from bot.context import BotApplication, BotContext
from bot.handlers.common import group_answerable_by_presser, sender_id, with_retry
from bot.handlers.photos import SPOOL_ABOVE, FileTooLarge, download
from model.explain import Explanation
from model.images import ImageError
from model.predictor import MAIN_FACE_RATIO
from storage.repository import FeedbackOutcome, OwnedFace

log = logging.getLogger("bot.feedback")


async def on_feedback(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None:
        return
    t = context.t
    service = context.bot_data.service
    button = decode_feedback(query.data)
    sender = sender_id(update)
    # The bot sends no inline messages: a press under one was crafted, and is refused before
    # anything is stored. A token is bound to the chat it was shown in (RowTokens): a button
    # of a photo answered in one group, pressed in another, stands for nothing. A message
    # Telegram no longer lets the bot reach (an InaccessibleMessage) cannot be edited or
    # replied to, so its buttons have expired too.
    message = query.message if isinstance(query.message, Message) else None
    chat = message.chat if message is not None else None
    prediction_id = (
        service.button_tags.prediction_of(button.token, chat.id) if button is not None and chat is not None else None
    )
    if button is None or message is None or chat is None or prediction_id is None or sender is None:
        log.info("event=malformed_callback update_id=%s inline=%s", update.update_id, query.message is None)
        await with_retry(lambda: query.answer(t(replies.BUTTON_EXPIRED)))
        return
    face = await service.records.owned_face(prediction_id, sender)
    if face is None and (group := await group_answerable_by_presser(update)) is not None:
        # An anonymous admin's photo is the group's: its admins answer for it.
        sender, face = group, await service.records.owned_face(prediction_id, group)
    if face is None:
        deleted = not await service.records.answer_exists(prediction_id)
        refusal = t(replies.ANSWER_DELETED if deleted else replies.NOT_YOUR_PHOTO)
        await with_retry(lambda: query.answer(refusal, show_alert=True))
        return
    faces = tuple((number, service.button_tags.prediction_token(face_id, chat.id)) for number, face_id in face.faces)
    grouped = under_group_answer(face, message)
    if button.action == "face":
        rating = keyboards.rate(button.token, t, face.number, why=service.model.predictor.gives_maps)
        await with_retry(lambda: query.answer(t(replies.FACE_CHOSEN).format(number=face.number)))
        await with_retry(lambda: query.edit_message_reply_markup(rating))
        return
    if button.action == "why":
        await answer_why(query, message, context, face, button.token, grouped)
        log.info("event=why update_id=%s group=%s", update.update_id, grouped)
        return
    if button.action == "everyone":
        await answer_everyone(query, message, context, face, faces)
        log.info("event=everyone update_id=%s", update.update_id)
        return
    if button.action == "faces":
        await with_retry(lambda: query.answer())
        await with_retry(lambda: query.edit_message_reply_markup(keyboards.faces(faces)))
        return
    if button.action == "no":
        await with_retry(lambda: query.answer(t(replies.WHICH_LABEL)))
        await with_retry(lambda: query.edit_message_reply_markup(keyboards.labels(button.token, face.label, t)))
        return
    if button.action in ("is", "ok"):
        question = replies.consent_question(face.number if grouped else None, t)
        await with_retry(lambda: query.answer(question))
        await with_retry(lambda: query.edit_message_reply_markup(keyboards.consent(button.token, button.label, t)))
        return
    outcome = await service.records.feedback(
        face.prediction_id,
        sender,
        is_correct=button.label is None,
        corrected_label=button.label,
        share_crop=bool(button.share),
    )
    log.info("event=feedback update_id=%s outcome=%s group=%s", update.update_id, outcome.value, grouped)
    if outcome is FeedbackOutcome.NOT_YOURS:
        await with_retry(lambda: query.answer(t(replies.NOT_YOUR_PHOTO), show_alert=True))
    elif outcome is FeedbackOutcome.ALREADY_ANSWERED:
        await with_retry(lambda: query.answer(t(replies.ALREADY_RATED)))
    elif outcome is FeedbackOutcome.CONSENT_WITHDRAWN:
        await with_retry(lambda: query.answer(t(replies.CONSENT_WITHDRAWN), show_alert=True))
    elif grouped:
        await with_retry(lambda: query.answer(t(replies.FACE_THANKS).format(number=face.number)))
    else:
        thanks = "\n\n<i>" + t(replies.THANKS_LINE) + "</i>"
        await with_retry(lambda: query.answer(t(replies.THANKS)))
        # A main face's answer keeps its way to everyone's (an edit without a keyboard drops it).
        still = keyboards.everyone(button.token, t) if has_button(message, "everyone") else None
        if message.photo:  # a clip's answer: the frame judged, the verdict its caption
            await with_retry(
                lambda: query.edit_message_caption((message.caption_html or "") + thanks, reply_markup=still)
            )
        else:
            await with_retry(lambda: query.edit_message_text((message.text_html or "") + thanks, reply_markup=still))
    if grouped:
        # Whatever became of this face, the other faces can still be rated: back to the numbers.
        await with_retry(lambda: query.edit_message_reply_markup(keyboards.faces(faces)))


def under_group_answer(face: OwnedFace, message: Message) -> bool:
    """Whether the press came under a group answer (numbered faces), not under the answer about
    one face. A photo's answer about one face is a text, and its group answer (at once, or after
    "Check everyone") the annotated picture; a clip's answers are both pictures, so its stored
    faces tell, by the serving rule (`model.predictor.MAIN_FACE_RATIO`)."""
    if len(face.faces) < 2:
        return False
    if face.input_kind in PHOTO_KINDS:
        return bool(message.photo)
    return face.number > 1 or face.answered_face_by_face(MAIN_FACE_RATIO)


def has_button(message: Message, action: str) -> bool:
    """Whether the message's keyboard still shows a button of this action."""
    markup = message.reply_markup
    return markup is not None and any(
        (pressed := decode_feedback(button.callback_data if isinstance(button.callback_data, str) else None))
        is not None
        and pressed.action == action
        for row in markup.inline_keyboard
        for button in row
    )


async def answer_everyone(
    query: CallbackQuery, message: Message, context: BotContext, face: OwnedFace, faces: tuple[tuple[int, str], ...]
) -> None:
    """The group answer for a photo first answered about its main face: the photo (or clip)
    downloaded again and judged again (`bot.judging.Judge.everyone`), every face boxed and numbered,
    a button per face, replying to the user's photo as group answers do. The button goes."""
    t = context.t
    file_id = answered_file(message, face)
    drawn = None
    if file_id is not None:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_ABOVE) as spool:
            try:
                await download(context, file_id, spool)
                drawn = await context.bot_data.service.judge.everyone(spool, face, face.input_kind not in PHOTO_KINDS)
            except (BadRequest, FileTooLarge, ImageError) as error:
                log.info("event=everyone_unavailable reason=%s", type(error).__name__)
    if drawn is None or message.reply_to_message is None:
        await with_retry(lambda: query.answer(t(replies.EVERYONE_UNAVAILABLE), show_alert=True))
    else:
        photo, annotated = drawn
        await with_retry(lambda: query.answer())
        quoted = ReplyParameters(message.reply_to_message.message_id, allow_sending_without_reply=True)
        caption = replies.group_caption(photo, t)
        await with_retry(
            lambda: message.reply_photo(
                annotated, caption=caption, reply_markup=keyboards.faces(faces), reply_parameters=quoted
            )
        )
    markup = message.reply_markup
    if markup is not None and has_button(message, "everyone"):
        rows = [row for row in markup.inline_keyboard if not any(b.callback_data == query.data for b in row)]
        await with_retry(lambda: query.edit_message_reply_markup(InlineKeyboardMarkup(rows) if rows else None))


async def answer_why(
    query: CallbackQuery, message: Message, context: BotContext, face: OwnedFace, token: str, grouped: bool
) -> None:
    """The face crop with the heat map of its verdict, and the sentence naming where it falls,
    from the photo (or clip) downloaded again and judged again (`bot.judging.Judge.explain`): nothing
    was kept for it, so any replica answers it, as long as the photo is there. Either way the
    button goes."""
    t = context.t
    number = face.number if grouped else None
    explanation = await explanation_of(context, message, face)
    if explanation is None:
        await with_retry(lambda: query.answer(t(replies.WHY_UNAVAILABLE), show_alert=True))
    else:
        await with_retry(lambda: query.answer())
        caption = replies.why(face.label, explanation.region, number, t)
        if face.model_version != context.bot_data.service.model.version:
            caption += "\n\n<i>" + t(replies.WHY_NEWER_MODEL) + "</i>"
        await with_retry(lambda: message.reply_photo(explanation.picture, caption=caption))
    # Only a keyboard that shows the button loses it: Telegram refuses an edit that changes
    # nothing, and a replayed press must not bring back Right / Wrong over another keyboard.
    markup = message.reply_markup
    if markup is not None and any(
        button.callback_data == query.data for row in markup.inline_keyboard for button in row
    ):
        await with_retry(lambda: query.edit_message_reply_markup(keyboards.rate(token, t, number)))


PHOTO_KINDS = ("photo", "document")
"""The input kinds judged as a photo; the others (video notes, videos, GIFs, video files) are clips."""


def answered_file(message: Message, face: OwnedFace) -> str | None:
    """The file id of what the user sent, which the verdict `message` (a photo's text, a group
    photo's annotated copy, a clip's frame) replies to. Telegram, not the client, gives the
    message with the press, so it is the photo the verdict was about. None when Telegram no longer
    shows it (it was deleted)."""
    sent = message.reply_to_message
    if sent is None:
        return None
    if face.input_kind == "photo":
        return sent.photo[-1].file_id if sent.photo else None
    attachment = {"video_note": sent.video_note, "video": sent.video, "animation": sent.animation}.get(
        face.input_kind, sent.document
    )
    return attachment.file_id if attachment is not None else None


async def explanation_of(context: BotContext, message: Message, face: OwnedFace) -> Explanation | None:
    """The explanation of `face` from what the user sent, downloaded within the photos' limits;
    None when it or the face in it cannot be found again."""
    file_id = answered_file(message, face)
    if file_id is None:
        log.info("event=why_unavailable reason=no_photo")
        return None
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_ABOVE) as spool:
        try:
            await download(context, file_id, spool)
            explanation = await context.bot_data.service.judge.explain(spool, face, face.input_kind not in PHOTO_KINDS)
        except (BadRequest, FileTooLarge, ImageError) as error:  # deleted, or no longer the same photo
            log.info("event=why_unavailable reason=%s", type(error).__name__)
            return None
    if explanation is None:
        log.info("event=why_unavailable reason=face_not_found")
    return explanation


def register(application: BotApplication) -> None:
    application.add_handler(CallbackQueryHandler(on_feedback, pattern=matches(Prefix.FEEDBACK)))
