"""`maskbot run`: the bot itself."""

from __future__ import annotations

import argparse

from bot.config import ConfigError, load_settings
from cli.common import CommandError


def cmd_run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except ConfigError as error:
        raise CommandError(str(error), status=2) from error
    # The bot's modules (python-telegram-bot, the web server) load only when it starts.
    from bot.app import run

    return run(settings)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser("run", help="start the bot (long polling, or a webhook when WEBHOOK_URL is set)")
    run.set_defaults(handler=cmd_run)
