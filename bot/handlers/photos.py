"""Photos and image documents in, verdicts out (clips too, from bot.handlers.videos); everything
else gets a helpful answer."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import operator
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import IO, Any

from telegram import ReplyParameters, Update
from telegram.constants import ChatAction
from telegram.error import BadRequest, TelegramError
from telegram.ext import MessageHandler, filters

from bot import keyboards, replies
from bot.context import BotApplication, BotContext
from bot.handlers.common import sender_id, with_retry
from model.images import IMAGE_SUFFIXES, ImageError
from model.messages import Message
from model.predictor import NoFaceFound

log = logging.getLogger("bot.photos")

MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
"""The Bot API serves files up to 20 MB; larger ones cannot even be downloaded."""
SPOOL_ABOVE = 1024 * 1024
"""A download larger than this goes to a temporary file: a phone photo stays in memory, while a
burst of big images waits on disk for its turn to be decoded."""
TYPING_AFTER_SECONDS = 1.0
"""Most verdicts arrive in a fraction of a second; "typing..." is shown only when one is slow,
which saves a Bot API call per photo at the rate Telegram allows."""
IMAGES = filters.PHOTO | functools.reduce(
    operator.or_, (filters.Document.FileExtension(suffix[1:]) for suffix in IMAGE_SUFFIXES), filters.Document.IMAGE
)
"""Every update with an image: a photo, an image file, or a file named like one whose sender's app
declared no image MIME type (`on_other_document` tries those)."""


async def on_photo(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None or not message.photo:
        return
    photo = message.photo[-1]  # the largest size Telegram made
    await check_and_reply(update, context, photo.file_id, photo.file_size, "photo")


async def on_image_document(update: Update, context: BotContext) -> None:
    message = update.effective_message
    document = message.document if message is not None else None
    if document is None:
        return
    await check_and_reply(update, context, document.file_id, document.file_size, "document")


async def check_and_reply(
    update: Update,
    context: BotContext,
    file_id: str,
    file_size: int | None,
    input_kind: str,
    clip: bool = False,
    refused: ImageError | None = None,
) -> None:
    """Check a photo, or with `clip` a video (`bot.judging.Judge.check_clip`), and answer. The update
    got here within its sender's rate limit (`bot.handlers.limit_update`). `refused`: what the
    update itself tells of the file is reason enough to refuse it (bot.handlers.videos); it is
    answered without a download."""
    started = time.perf_counter()
    t = context.t
    message = update.effective_message
    service = context.bot_data.service
    sender = sender_id(update)
    if sender is None or message is None:  # e.g. a shared account without its chat: nobody to answer for
        return
    if file_size is not None and file_size > MAX_DOWNLOAD_BYTES:
        log.info("event=too_large update_id=%s kind=%s bytes=%d", update.update_id, input_kind, file_size)
        text = t(replies.TOO_LARGE).format(
            size=t.number(file_size / 1024 / 1024, 1), limit=MAX_DOWNLOAD_BYTES // 1024 // 1024
        )
        await with_retry(lambda: message.reply_text(text))
        return
    # Past SPOOL_ABOVE the download waits on disk, in a file without a name (mode 0600) that is
    # gone when it is closed, at the end of this update: memory holds only the photos being
    # decoded (bot.judging.Judge.check_photo). /forget cancels the sender's photos and clips not yet
    # being decoded, and waits for the others (bot.forgetting.Forgetting.forget).
    # A refusal keeps only its text: the error caught holds a traceback whose frames hold the
    # file (bot.judging.Judge._check's `data`), and kept past its `except` it would keep it alive in a
    # reference cycle until the garbage collector ran.
    refusal: str | None
    async with typing_when_slow(context, message.chat_id), service.forgetting.answering(sender) as work:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_ABOVE) as spool:
            try:
                if refused is not None:
                    raise refused
                await download(context, file_id, spool)
                check = service.judge.check_clip if clip else service.judge.check_photo
                result = await check(spool, sender, message.chat.type, input_kind)
            except FileTooLarge as error:
                log.info("event=too_large update_id=%s kind=%s when=%s", update.update_id, input_kind, error.when)
                limit = MAX_DOWNLOAD_BYTES // 1024 // 1024
                refusal = replies.no_verdict(t.message(Message(replies.TOO_LARGE_UNKNOWN, {"limit": limit})), [])
            except ImageError as error:
                log.info(
                    "event=bad_image update_id=%s kind=%s reason=%s", update.update_id, input_kind, type(error).__name__
                )
                tips = error.framing.tips if isinstance(error, NoFaceFound) else ()
                refusal = replies.no_verdict(t.message(error.message), [t.message(tip) for tip in tips])
            except asyncio.CancelledError:
                if not work.forgotten:  # the bot is stopping
                    raise
                work.task.uncancel()
                log.info("event=forgotten_unchecked update_id=%s kind=%s", update.update_id, input_kind)
                refusal = t(replies.FORGOTTEN_UNCHECKED)
            else:
                refusal = None
    # Replies go out after the typing indicator is cancelled, so it cannot follow an answer.
    if refusal is not None:
        text = refusal
        await with_retry(lambda: message.reply_text(text))
        return
    metrics = context.bot_data.metrics
    metrics.inference_seconds.observe(result.prediction.latency_ms / 1000)
    ids = result.prediction_ids
    if ids is None:
        metrics.errors.labels(kind="database").inc()
    tokens = [service.button_tags.prediction_token(prediction_id, message.chat_id) for prediction_id in ids or ()]
    annotated = result.annotated
    # The verdict replies to the photo in every chat, not only in groups: what it answers stays
    # beside it, for "Why?" too.
    quoted = ReplyParameters(message.message_id, allow_sending_without_reply=True)
    if result.photo.is_group and annotated is not None:  # a group photo always has its annotated copy
        keyboard = keyboards.faces(tuple(enumerate(tokens, start=1))) if tokens else None
        caption = replies.group_caption(result.photo, t, can_rate=keyboard is not None)
        await with_retry(
            lambda: message.reply_photo(annotated, caption=caption, reply_markup=keyboard, reply_parameters=quoted)
        )
    else:
        # A main face with people behind: its answer, and the group answer one press away.
        everyone = len(result.photo.faces) > 1
        keyboard = keyboards.rate(tokens[0], t, why=result.prediction.explainable, everyone=everyone) if ids else None
        text = replies.verdict(result.prediction, t, result.photo.background)
        if annotated is None:
            await with_retry(lambda: message.reply_text(text, reply_markup=keyboard, reply_parameters=quoted))
        else:  # a clip: the frame judged, the verdict its caption
            await with_retry(
                lambda: message.reply_photo(annotated, caption=text, reply_markup=keyboard, reply_parameters=quoted)
            )
    elapsed = time.perf_counter() - started
    metrics.reply_seconds.observe(elapsed)
    for prediction in result.photo.faces:
        metrics.verdicts.labels(label=prediction.label, unsure=str(prediction.unsure).lower()).inc()
    log.info(
        "event=verdict update_id=%s kind=%s latency_ms=%.0f faces=%d verdict=%s unsure=%s model=%s",
        update.update_id,
        input_kind,
        elapsed * 1000,
        len(result.photo.faces),
        result.prediction.label,
        result.prediction.unsure,
        result.prediction.model_version,
    )


class FileTooLarge(Exception):
    def __init__(self, when: str) -> None:
        super().__init__(when)
        self.when = when
        """Where it was caught: "getFile" (Telegram refused), "declared" or "download"."""


async def download(context: BotContext, file_id: str, into: IO[bytes]) -> None:
    """Stream the file into `into`, cut off past MAX_DOWNLOAD_BYTES whatever size was declared."""
    try:
        telegram_file = await with_retry(lambda: context.bot.get_file(file_id))
    except BadRequest as error:
        if "too big" in error.message.lower():
            raise FileTooLarge("getFile") from error
        raise
    if telegram_file.file_size is not None and telegram_file.file_size > MAX_DOWNLOAD_BYTES:
        raise FileTooLarge("declared")
    if telegram_file.file_path is None:  # the Bot API gave no way to download it
        raise TelegramError("getFile answered without a file path")
    received = 0
    async with context.bot_data.downloads.stream("GET", telegram_file.file_path) as response:
        response.raise_for_status()
        async for chunk in response.aiter_bytes():
            received += len(chunk)
            if received > MAX_DOWNLOAD_BYTES:
                raise FileTooLarge("download")
            into.write(chunk)


@contextlib.asynccontextmanager
async def typing_when_slow(context: BotContext, chat_id: int) -> AsyncIterator[None]:
    async def show_typing() -> None:
        await asyncio.sleep(TYPING_AFTER_SECONDS)
        with contextlib.suppress(Exception):  # a lost "typing..." is not worth an error
            await context.bot.send_chat_action(chat_id, ChatAction.TYPING)

    indicator = asyncio.create_task(show_typing())
    try:
        yield
    finally:
        indicator.cancel()


async def on_other_document(update: Update, context: BotContext) -> None:
    message = update.effective_message
    document = message.document if message is not None else None
    if message is None or document is None:
        return
    name = (document.file_name or "").lower()
    if name.endswith(IMAGE_SUFFIXES):
        # An image whose sender's app declared no image MIME type: give it a try.
        await check_and_reply(update, context, document.file_id, document.file_size, "document")
        return
    pdf = name.endswith(".pdf") or document.mime_type == "application/pdf"
    text = context.t(replies.NOT_AN_IMAGE_DOCUMENT if pdf else replies.NOT_AN_IMAGE_FILE)
    log.info("event=unsupported update_id=%s kind=document", update.update_id)
    await with_retry(lambda: message.reply_text(text))


def _other(kind: str) -> Callable[[Update, BotContext], Coroutine[Any, Any, None]]:
    async def reply(update: Update, context: BotContext) -> None:
        message = update.effective_message
        if message is None:
            return
        log.info("event=unsupported update_id=%s kind=%s", update.update_id, kind)
        await with_retry(lambda: message.reply_text(context.t(replies.OTHER_CONTENT[kind])))

    reply.__name__ = f"on_{kind}"
    return reply


def register(application: BotApplication) -> None:
    application.add_handler(MessageHandler(filters.PHOTO, on_photo))
    application.add_handler(MessageHandler(filters.Document.IMAGE, on_image_document))
    application.add_handler(MessageHandler(filters.Document.ALL, on_other_document))
    for kind, content in (
        ("sticker", filters.Sticker.ALL),
        ("voice", filters.VOICE),
        ("audio", filters.AUDIO),
        ("text", filters.TEXT & ~filters.COMMAND),
    ):
        application.add_handler(MessageHandler(content, _other(kind)))
