"""What handlers and jobs reach through `context`: typed, set once by `bot.app.build_application`.

python-telegram-bot's own generics carry the types: `CONTEXT_TYPES` gives the Application a
`BotData` for `bot_data` and a `BotContext` for every callback, and `BotApplication` names the
Application that `ApplicationBuilder` builds with them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from bot.i18n import DEFAULT_LANGUAGE, Translator, translator

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


BotType: TypeAlias = ExtBot[int]
"""The application's bot: an ExtBot whose rate limiter (bot.ratelimit.GroupBudgetRateLimiter, an
AIORateLimiter) takes an int per call."""


class BotContext(CallbackContext[BotType, dict, dict, BotData]):
    """One update's context. `t` translates into the sender's language: English until
    `bot.handlers.choose_language` (which runs before every other handler) has looked it up."""

    def __init__(self, application: BotApplication, chat_id: int | None = None, user_id: int | None = None) -> None:
        super().__init__(application, chat_id, user_id)
        self.t: Translator = translator(DEFAULT_LANGUAGE)


BotApplication: TypeAlias = Application[BotType, BotContext, dict, dict, BotData, Any]
"""The Application `bot.app.build_application` builds. Its job queue is reached through
`Application.job_queue`, which python-telegram-bot types by the context (`JobQueue[BotContext]`),
so the builder's own job-queue parameter is left open."""


CONTEXT_TYPES = ContextTypes(context=BotContext, bot_data=BotData)
