"""Small helpers every handler module uses."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import ContextTypes

from bot.metrics import BotMetrics
from bot.service import MaskService

log = logging.getLogger("bot.handlers")
T = TypeVar("T")
MAX_RETRIES = 4
BACKOFF_SECONDS = 0.5


def service_of(context: ContextTypes.DEFAULT_TYPE) -> MaskService:
    return context.application.bot_data["service"]


def metrics_of(context: ContextTypes.DEFAULT_TYPE) -> BotMetrics:
    return context.application.bot_data["metrics"]


def downloads_of(context: ContextTypes.DEFAULT_TYPE) -> httpx.AsyncClient:
    """The HTTP client for file downloads, owned by the application (see bot.app)."""
    return context.application.bot_data["downloads"]


def settings_of(context: ContextTypes.DEFAULT_TYPE):
    return context.application.bot_data["settings"]


async def with_retry(send: Callable[[], Awaitable[T]]) -> T:
    """Call the Bot API, waiting out flood control (RetryAfter, as long as Telegram asks) and
    backing off after server errors and time-outs (0.5, 1, 2 s), so a hiccup loses no reply."""
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
        except NetworkError as error:  # includes TimedOut and Telegram's 5xx answers, not BadRequest
            if attempt == MAX_RETRIES - 1 or isinstance(error, BadRequest):
                raise
            delay = BACKOFF_SECONDS * 2 ** attempt
            log.warning("event=api_retry error=%s seconds=%.1f attempt=%d", type(error).__name__, delay, attempt + 1)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")
