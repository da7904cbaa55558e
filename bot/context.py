"""What handlers and jobs reach through `context`: typed, set once by `bot.app.build_application`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram.ext import CallbackContext, ContextTypes, ExtBot

if TYPE_CHECKING:
    import httpx

    from bot.config import Settings
    from bot.metrics import BotMetrics
    from bot.service import MaskService


class BotData:
    """python-telegram-bot's `bot_data`, as a class instead of a dict of strings."""

    settings: Settings
    service: MaskService
    metrics: BotMetrics
    downloads: httpx.AsyncClient
    """The client for file downloads: streamed so a download can be cut off at the size limit
    (python-telegram-bot's own download reads a whole file into memory first)."""


BotContext = CallbackContext[ExtBot[None], dict, dict, BotData]
CONTEXT_TYPES = ContextTypes(bot_data=BotData)
