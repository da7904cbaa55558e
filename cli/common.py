"""What the commands share: the one way to stop with an error, the settings, the database and the model folder."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from model.registry import SHIPPED_MODEL, active_model_dir
from storage.database import Database
from storage.repository import Repository


class CommandError(Exception):
    """A command stops: `main` prints `maskbot: <message>` on stderr and exits with `status`."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def settings_without_token() -> Settings:
    """The settings, for every command but `run`: they need no bot token."""
    try:
        return load_settings(require_token=False)
    except ConfigError as error:
        raise CommandError(str(error)) from error


@contextlib.contextmanager
def open_storage(settings: Settings) -> Iterator[tuple[Database, Repository]]:
    """The database, migrated, and its repository; the engine is disposed however the command ends."""
    # Crops shared before they moved into the database are moved by the migration, from the bot's folder.
    database = Database(settings.database_url, legacy_crops_dir=settings.crops_dir)
    try:
        yield database, Repository(database)
    finally:
        database.dispose()


def model_dir(args: argparse.Namespace) -> Path:
    """--model, else $MODEL_DIR (a registry's champion), else the model shipped in the repository."""
    if args.model:
        return Path(args.model)
    if os.environ.get("MODEL_DIR"):
        return active_model_dir(Path(os.environ["MODEL_DIR"]))
    return SHIPPED_MODEL
