"""The bot's languages: gettext catalogs managed with Babel, and locale-aware numbers and dates.

Catalogs live in `bot/locales/<language>/LC_MESSAGES/messages.po` (compiled `.mo` beside them,
shipped in the package). `make translations` extracts the message ids from the code, updates the
catalogs and compiles them; tests fail when a catalog is out of date or a message untranslated.
"""

from __future__ import annotations

import functools
import gettext
from datetime import date
from pathlib import Path

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

from model.messages import Message, Share

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"
DEFAULT_LANGUAGE = "en"
LANGUAGES = {"en": "English", "es": "Español", "pt": "Português"}
"""Each language the bot speaks, by its code, named in itself (for /language)."""


def language_for(language_code: str | None) -> str:
    """The language to answer in for a Telegram `language_code` ("es-CO" -> "es"); English for
    any language without a catalog."""
    base = (language_code or "").replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


class Translator:
    """gettext and Babel's formatting for one language."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.locale = Locale.parse(language)
        self._catalog = _catalog(language)

    def __call__(self, message: str) -> str:
        """The message in this language (the message ids are the English texts)."""
        return self._catalog.gettext(message)

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        return self._catalog.ngettext(singular, plural, count)

    def percent(self, share: float, digits: int = 0) -> str:
        """The locale's own percent format ("95%", "95 %"), with up to `digits` decimals."""
        return format_percent(round(share, digits + 2), locale=self.locale, decimal_quantization=False)

    def number(self, value: float, digits: int = 0) -> str:
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=self.locale)

    def short_date(self, day: date) -> str:
        """Day and month ("20 Nov", "20 nov"): a chart's dates."""
        return format_date(day, format="d MMM", locale=self.locale)

    def date(self, day: date) -> str:
        return format_date(day, format="medium", locale=self.locale)

    def message(self, message: Message) -> str:
        """A model-layer sentence, translated, its values formatted for this locale."""
        values = {name: self._value(value) for name, value in message.values.items()}
        return self(message.template).format(**values)

    def _value(self, value: object) -> str:
        if isinstance(value, Share):
            return self.percent(value.value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return str(value)
        return self.number(value)


@functools.cache
def translator(language: str) -> Translator:
    return Translator(language if language in LANGUAGES else DEFAULT_LANGUAGE)


@functools.cache
def _catalog(language: str) -> gettext.NullTranslations:
    if language == DEFAULT_LANGUAGE:  # the message ids are the English texts
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALES_DIR, languages=[language])
