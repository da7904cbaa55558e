"""Small helpers every handler module uses."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram.error import RetryAfter
from telegram.ext import ContextTypes

from bot.metrics import BotMetrics
from bot.service import MaskService

log = logging.getLogger("bot.handlers")
T = TypeVar("T")
MAX_RETRIES = 3


def service_of(context: ContextTypes.DEFAULT_TYPE) -> MaskService:
    return context.application.bot_data["service"]


def metrics_of(context: ContextTypes.DEFAULT_TYPE) -> BotMetrics:
    return context.application.bot_data["metrics"]


def settings_of(context: ContextTypes.DEFAULT_TYPE):
    return context.application.bot_data["settings"]


async def with_retry(send: Callable[[], Awaitable[T]]) -> T:
    """Call the Bot API, waiting out Telegram's flood control (RetryAfter) a few times."""
    for attempt in range(MAX_RETRIES):
        try:
            return await send()
        except RetryAfter as error:
            if attempt == MAX_RETRIES - 1:
                raise
            delay = error.retry_after.total_seconds() if hasattr(error.retry_after, "total_seconds") \
                else float(error.retry_after)
            log.warning("event=retry_after seconds=%.1f attempt=%d", delay, attempt + 1)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")
