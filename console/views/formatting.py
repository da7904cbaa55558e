"""How the templates write labels and numbers: as the bot does, so a page and /stats agree."""

from __future__ import annotations

from datetime import datetime

from bot import replies
from bot.i18n import DEFAULT_LANGUAGE, Translator


def label_name(name: str) -> str:
    """ "Mask worn incorrectly" for "mask_weared_incorrect": the bot's own words for its verdicts."""
    return replies.VERDICT[name][1]


def verdict_name(label: str) -> str:
    """A camera count's label as the bot says it: a class, "Not sure", or the label itself for
    one the bot has no words for."""
    if label in replies.VERDICT:
        return label_name(label)
    return replies.NOT_SURE if label == "unsure" else label


ENGLISH = Translator(DEFAULT_LANGUAGE)


def _number(value: object) -> float | None:
    """`value` when it is a number; None for anything else a hand-edited file may hold."""
    return None if isinstance(value, bool) or not isinstance(value, int | float) else float(value)


def percent(value: object, digits: int = 0) -> str:
    """As the bot writes percentages (rounded alike, so the page and /stats agree)."""
    number = _number(value)
    return "-" if number is None else ENGLISH.percent(number, digits)


def decimal(value: object, digits: int = 4) -> str:
    number = _number(value)
    return "-" if number is None else f"{number:.{digits}f}"


def score(value: object) -> str:
    """A model's score with one fixed decimal, so columns of them line up ("89.0%")."""
    number = _number(value)
    return "-" if number is None else f"{number:.1%}"


def elapsed(moment: datetime, now: datetime) -> str:
    """How long before `now` `moment` was, in its largest whole unit: "40 s", "3 h"."""
    seconds = max(0, int((now - moment).total_seconds()))
    for unit, length in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= length:
            return f"{seconds // length} {unit}"
    return f"{seconds} s"
