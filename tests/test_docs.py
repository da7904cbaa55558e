"""The README's tables against the code, as datasette's test_docs.py holds its docs: a setting or a
command the code gains, loses or changes fails here until the README says so; and the model card's
generated tables against the shipped models' metadata."""

from __future__ import annotations

import argparse
import re

import pytest

from bot.config import ConfigError, load_settings
from camera.config import load_watch_settings
from cli import build_parser
from console.auth import load_token
from tests.support import ROOT
from training import card

README = (ROOT / "README.md").read_text()


def table_rows(first_cell: str) -> list[list[str]]:
    """The cells of every README table row whose first cell starts with `first_cell`."""
    rows = []
    for line in README.splitlines():
        if line.startswith(f"| {first_cell}"):
            # A cell may hold an escaped pipe (`[--day DAY \\| --catch-up]`).
            rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))])
    return rows


class ReadEnvironment(dict):
    """An environment that remembers every name the code asks it for."""

    def __init__(self, values: dict[str, str] | None = None) -> None:
        super().__init__(values or {})
        self.read: set[str] = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)


def settings_read() -> set[str]:
    env = ReadEnvironment()
    load_settings(env, require_token=False)
    with pytest.raises(ConfigError):  # unset: the console refuses to start without it
        load_token(env)
    load_watch_settings(env)
    return env.read | {"BOT_TOKEN"}  # read, and required, only when the bot starts


def test_the_readme_names_every_setting_the_bot_the_console_and_the_watcher_read():
    documented = {row[0].strip("`") for row in table_rows("`") if row[0].strip("`").isupper()}
    assert documented == settings_read()


def test_setting_a_documented_default_changes_nothing():
    defaults = {}
    for name, default, _ in (row[:3] for row in table_rows("`") if row[0].strip("`").isupper()):
        literal = re.fullmatch(r"`([^`]+)`", default)
        if literal:
            defaults[name.strip("`")] = literal.group(1).replace("DATA_DIR", "data")
    assert {"SUMMARY_TIME", "RETENTION_DAYS", "RATE_LIMIT_PER_MINUTE", "LOG_LEVEL", "DATABASE_URL"} <= set(defaults)
    assert {"WATCH_FPS", "WATCH_ALERT_MINUTES", "WATCH_ALERT_SHARE", "WATCH_STREAM_HOST"} <= set(defaults)
    unset = load_watch_settings({})
    for name, value in defaults.items():
        assert load_watch_settings({name: value}) == unset, name
    live = {"WATCH_STREAM_PORT": "8091", "CONSOLE_TOKEN": "k2Vq7N1xZp0LrT8wYb3HcJ5mFs9DgQ4e"}
    documented_url = (
        defaults["WATCH_STREAM_URL"].replace("WATCH_STREAM_HOST", "127.0.0.1").replace("WATCH_STREAM_PORT", "8091")
    )
    assert load_watch_settings(live | {"WATCH_STREAM_URL": documented_url}) == load_watch_settings(live)


def leaf_commands(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()) -> dict[str, str | None]:
    """Every runnable command ("models promote"), with the extra it needs."""
    found: dict[str, str | None] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                found |= leaf_commands(subparser, (*words, name))
    if not found and words:
        found[" ".join(words)] = parser.get_default("extra")
    return found


def test_the_readme_lists_every_command_and_marks_those_that_need_the_train_extra():
    documented = {}
    for row in table_rows("`maskbot "):
        usage = row[0].strip("`").split()[1:]
        words = [word for word in usage if re.fullmatch(r"[a-z][a-z-]*", word)]
        words = words[: next((i for i, w in enumerate(usage) if not re.fullmatch(r"[a-z][a-z-]*", w)), len(usage))]
        documented[" ".join(words)] = "train" if row[1].startswith("*train*") else None
    assert documented == leaf_commands(build_parser())


def test_the_model_cards_tables_are_what_the_shipped_models_record():
    """docs/model.md's generated tables against every shipped metadata.json; `python -m
    training.card` writes them again."""
    card_tables = card.blocks(card.CARD.read_text())
    assert card_tables == card.tables(card.shipped_metadata()), "run python -m training.card"
