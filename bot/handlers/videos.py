"""Video notes, videos, GIFs and video files in: each judged on its best frame like a photo
(`bot.handlers.photos.check_and_reply`, `bot.judging.Judge.check_clip`), answered with that frame."""

from __future__ import annotations

import functools
import operator

from telegram import Animation, Document, Update, Video, VideoNote
from telegram.ext import MessageHandler, filters

from bot import replies
from bot.context import BotApplication, BotContext
from bot.handlers.common import sender_id
from bot.handlers.photos import check_and_reply
from model.messages import Message
from model.video import ClipError, check_limits

VIDEO_SUFFIXES = ("mp4", "m4v", "mov", "webm", "mkv")
VIDEO_FILES = functools.reduce(
    operator.or_, (filters.Document.FileExtension(suffix) for suffix in VIDEO_SUFFIXES), filters.Document.VIDEO
)
"""Video files, and files named like one whose sender's app declared no video MIME type."""
CLIPS = filters.VIDEO_NOTE | filters.VIDEO | filters.ANIMATION | VIDEO_FILES
"""Every update with a clip: rate-limited like photos (`bot.handlers.limit_update`)."""


async def on_video_note(update: Update, context: BotContext) -> None:
    message = update.effective_message
    note = message.video_note if message is not None else None
    if note is not None:
        await check_clip(update, context, note, "video_note", note.length, note.length)


async def on_video(update: Update, context: BotContext) -> None:
    message = update.effective_message
    video = message.video if message is not None else None
    if video is not None:
        await check_clip(update, context, video, "video", video.width, video.height)


async def on_animation(update: Update, context: BotContext) -> None:
    message = update.effective_message
    animation = message.animation if message is not None else None
    if animation is not None:
        await check_clip(update, context, animation, "animation", animation.width, animation.height)


async def on_video_document(update: Update, context: BotContext) -> None:
    message = update.effective_message
    document = message.document if message is not None else None
    if document is not None:
        await check_clip(update, context, document, "video_document")


async def check_clip(
    update: Update,
    context: BotContext,
    clip: VideoNote | Video | Animation | Document,
    input_kind: str,
    width: int | None = None,
    height: int | None = None,
) -> None:
    """Refuse a clip from what its update declares before anything is downloaded (after the
    rate limit, which counts it like a photo); the container is checked again after download,
    as a client can declare anything."""
    # The Bot API's whole seconds; python-telegram-bot's `duration` attribute changes type
    # between versions, its dictionary form does not.
    seconds = clip.to_dict().get("duration")
    try:
        check_limits(size=clip.file_size, seconds=seconds, width=width, height=height)
    except ClipError as error:
        refused: ClipError | None = error
    else:
        refused = None
    sender = sender_id(update)
    if sender is None:  # nobody to answer for (check_and_reply says nothing either)
        return
    # One clip of a user's at a time: a second, while the first is downloaded, queued or judged,
    # is answered at once, without a download.
    with context.bot_data.service.admission.one_clip(sender) as admitted:
        if not admitted and refused is None:
            refused = ClipInFlight(Message(replies.CLIP_IN_FLIGHT))
        await check_and_reply(update, context, clip.file_id, clip.file_size, input_kind, clip=True, refused=refused)


class ClipInFlight(ClipError):
    """Another clip of the sender's is being answered."""


def register(application: BotApplication) -> None:
    """Before the photo handlers: Telegram sends an animation with a copy of it as a document."""
    application.add_handler(MessageHandler(filters.VIDEO_NOTE, on_video_note))
    application.add_handler(MessageHandler(filters.VIDEO, on_video))
    application.add_handler(MessageHandler(filters.ANIMATION, on_animation))
    application.add_handler(MessageHandler(VIDEO_FILES, on_video_document))
