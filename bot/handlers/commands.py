"""Every command the bot answers, in one list: the handlers' registration and the command menus
(one per language, the admins' holding every command) all come from COMMANDS."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram import BotCommand, Update
from telegram.ext import CommandHandler, filters

from bot.context import BotApplication, BotContext
from bot.handlers import account, admin
from bot.i18n import translator
from model.messages import N_


@dataclass(frozen=True)
class Command:
    name: str
    callback: Callable[[Update, BotContext], Coroutine[Any, Any, None]]
    description: str
    """For the command menus: an English message id, translated for each menu's language."""
    admin: bool = False
    """Only for ADMIN_IDS: for anyone else it does not exist (the unknown-command answer), and it
    is shown in the admins' menu only."""


COMMANDS: tuple[Command, ...] = (
    Command("start", account.on_start, N_("What I do and how to take a good photo")),
    Command("help", account.on_start, N_("How to take a good photo")),
    Command("privacy", account.on_privacy, N_("What I keep about you, and for how long")),
    Command("forget", account.on_forget, N_("Delete everything I keep about you")),
    Command("language", account.on_language, N_("Choose my language: English, Spanish or Portuguese")),
    Command("stats", admin.on_stats, N_("Counts per class, feedback, drift: /stats [days]"), admin=True),
    Command("drift", admin.on_drift, N_("Drift level of recent days"), admin=True),
    Command("model", admin.on_model, N_("The model in use and its scores"), admin=True),
    Command("reload", admin.on_reload, N_("Switch to the registry's champion model"), admin=True),
)
"""In the menus' order."""


def menu(language: str, admins: bool = False) -> list[BotCommand]:
    """The command menu in `language`: everyone's commands, or with `admins` every command."""
    t = translator(language)
    return [BotCommand(command.name, t(command.description)) for command in COMMANDS if admins or not command.admin]


def register(application: BotApplication, admin_ids: frozenset[int]) -> None:
    only_admins = filters.User(user_id=admin_ids)  # matches nobody when there are no admins
    for command in COMMANDS:
        application.add_handler(
            CommandHandler(command.name, command.callback, filters=only_admins if command.admin else None)
        )
