"""What every handler module uses to talk to the Bot API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram import Chat, Update
from telegram.constants import ChatID, ChatMemberStatus, ChatType
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError

log = logging.getLogger("bot.handlers")
T = TypeVar("T")
MAX_RETRIES = 4
BACKOFF_SECONDS = 0.5
MAX_WAIT_SECONDS = 5.0
"""The most a handler waits in all for one reply. A chat under Telegram's flood control for longer
loses that reply: a handler asleep for a minute holds one of the bot's concurrent-update slots,
and a flood of such handlers would make every other user wait."""

GROUP_CHATS = (ChatType.GROUP, ChatType.SUPERGROUP)
SHARED_SENDERS = frozenset({ChatID.ANONYMOUS_ADMIN, ChatID.FAKE_CHANNEL, ChatID.SERVICE_CHAT})
"""The accounts Telegram puts in `from` for anonymous group admins, for people posting as a
channel, and for channel posts forwarded to a discussion group: one account for all of them."""


def sender_id(update: Update) -> int | None:
    """Who sent this update, as the bot tells senders apart (rate limits, pseudonyms, /forget,
    /language, feedback): a user's id, or, for an anonymous group admin or someone posting as a
    channel, the id of the chat they speak as (`message.sender_chat`, through python-telegram-
    bot's `effective_sender`). A chat's id is negative, so it never equals a user's. None when
    there is nobody to tell apart, and for a shared account without its chat: its id would make
    every anonymous sender of every group one person."""
    sender = update.effective_sender
    if sender is None or (not isinstance(sender, Chat) and sender.id in SHARED_SENDERS):
        return None
    return sender.id


class AdminCheckFailed(Exception):
    """Telegram did not say whether the presser is an admin: getChatMember failed."""


async def group_of_admin_presser(update: Update) -> int | None:
    """The group a button is pressed in, when the person pressing it is one of its admins; else
    None; raises AdminCheckFailed when Telegram could not tell (a 400, or server errors past the
    retries). What an anonymous admin sends is the group's (`sender_id`), but Telegram names the
    real person in a button press: the group's admins are who can speak as the group, so they
    may answer its buttons (confirm its /forget, rate its photos). One getChatMember call, made
    only for a button that is not the presser's own."""
    query, chat = update.callback_query, update.effective_chat
    if query is None or chat is None or chat.type not in GROUP_CHATS:
        return None
    try:
        member = await with_retry(lambda: chat.get_member(query.from_user.id))
    except TelegramError as error:
        log.warning("event=admin_check_failed error=%s", type(error).__name__)
        raise AdminCheckFailed from None
    return chat.id if member.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR) else None


async def group_answerable_by_presser(update: Update) -> int | None:
    """`group_of_admin_presser`, None when Telegram could not tell."""
    try:
        return await group_of_admin_presser(update)
    except AdminCheckFailed:
        return None


async def with_retry(send: Callable[[], Awaitable[T]]) -> T:
    """Call the Bot API, waiting out short flood control (RetryAfter) and backing off after server
    errors and time-outs (0.5, 1, 2 s), so a hiccup loses no reply; never more than
    MAX_WAIT_SECONDS in all. Telegram's own rate limits are kept before sending by
    python-telegram-bot's AIORateLimiter (bot.app); this is for what still goes wrong."""
    waited = 0.0
    for attempt in range(MAX_RETRIES):
        try:
            return await send()
        except RetryAfter as error:
            delay = (
                error.retry_after.total_seconds()
                if hasattr(error.retry_after, "total_seconds")
                else float(error.retry_after)
            )
            if attempt == MAX_RETRIES - 1 or waited + delay > MAX_WAIT_SECONDS:
                log.warning("event=retry_after_given_up seconds=%.1f", delay)
                raise
            log.warning("event=retry_after seconds=%.1f attempt=%d", delay, attempt + 1)
        except NetworkError as error:  # includes TimedOut and Telegram's 5xx answers, not BadRequest
            delay = BACKOFF_SECONDS * 2**attempt
            if attempt == MAX_RETRIES - 1 or isinstance(error, BadRequest) or waited + delay > MAX_WAIT_SECONDS:
                raise
            log.warning("event=api_retry error=%s seconds=%.1f attempt=%d", type(error).__name__, delay, attempt + 1)
        waited += delay
        await asyncio.sleep(delay)
    raise AssertionError("unreachable")
