"""What every handler module uses to talk to the Bot API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram.error import BadRequest, NetworkError, RetryAfter

log = logging.getLogger("bot.handlers")
T = TypeVar("T")
MAX_RETRIES = 4
BACKOFF_SECONDS = 0.5
MAX_WAIT_SECONDS = 5.0
"""The most a handler waits in all for one reply. A chat under Telegram's flood control for longer
loses that reply: a handler asleep for a minute holds one of the bot's concurrent-update slots,
and a flood of such handlers would make every other user wait."""


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
