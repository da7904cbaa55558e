"""The translation catalogs: complete, in step with the code, compiled; and the language rules."""

from __future__ import annotations

import gettext
import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.i18n import DEFAULT_LANGUAGE, DOMAIN, LANGUAGES, LOCALES_DIR, language_for, translator

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"N_": None, "t": None, "gettext": None, "ngettext": (1, 2)}
"""What `make translations` extracts (`-k N_ -k t` and Babel's defaults that the code uses)."""
TRANSLATED = [language for language in LANGUAGES if language != DEFAULT_LANGUAGE]


def code_message_ids() -> set[str | tuple[str, ...]]:
    ids: set[str | tuple[str, ...]] = set()
    for folder in ("bot", "model"):
        for _, _, message, _, _ in extract_from_dir(ROOT / folder, method_map=[("**.py", "python")], keywords=KEYWORDS):
            ids.add(message)
    return ids


def catalog(language: str):
    with (LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as handle:
        return read_po(handle, locale=language)


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


def tags(text: str) -> list[str]:
    return sorted(re.findall(r"</?\w+>", text))


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_text_in_the_code_has_a_translation_and_no_other(language):
    translations = catalog(language)
    in_catalog = {message.id for message in translations if message.id}
    missing = code_message_ids() - in_catalog
    assert not missing, f"run `make translations`, then translate: {sorted(map(str, missing))[:5]}"
    assert not in_catalog - code_message_ids(), "the catalog keeps texts the code no longer sends"
    untranslated = [
        m.id for m in translations if m.id and not all(m.string if isinstance(m.string, tuple) else [m.string])
    ]
    assert not untranslated, untranslated[:5]


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_every_placeholder_and_html_tag(language):
    for message in catalog(language):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for string in strings:
            assert placeholders(string) == placeholders(ids[-1]), (message.id, string)
            assert tags(string) == tags(ids[-1]), (message.id, string)


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_compiled_catalog_is_the_translated_one(language):
    compiled = io.BytesIO()
    write_mo(compiled, catalog(language))
    compiled.seek(0)
    fresh = gettext.GNUTranslations(compiled)
    shipped = gettext.translation(DOMAIN, LOCALES_DIR, languages=[language])
    assert shipped._catalog == fresh._catalog, "run `make translations` to compile the catalog"


@pytest.mark.parametrize(
    "code, language",
    [
        ("es", "es"),
        ("es-CO", "es"),
        ("es-419", "es"),
        ("ES_mx", "es"),
        ("pt", "pt"),
        ("pt-BR", "pt"),
        ("pt-PT", "pt"),
        ("en-GB", "en"),
        ("de-DE", "en"),
        (None, "en"),
        ("", "en"),
    ],
)
def test_a_telegram_language_code_picks_a_language(code, language):
    assert language_for(code) == language


@pytest.mark.parametrize(
    "language, number, percent, day, answers",
    [
        ("es", "1.234,5", "95,4\xa0%", "28 nov 2026", "2 respuestas"),
        # Babel's "pt" is Brazil's: no space before "%", "de" in dates (Portugal's pt_PT has both otherwise).
        ("pt", "1.234,5", "95,4%", "28 de nov. de 2026", "2 respostas"),
    ],
)
def test_numbers_and_dates_follow_the_locale(language, number, percent, day, answers):
    from datetime import date

    t, english = translator(language), translator("en")
    assert (t.number(1234.5, 1), english.number(1234.5, 1)) == (number, "1,234.5")
    assert t.percent(0.954, 1) == percent and english.percent(0.954, 1) == "95.4%"
    assert t.date(date(2026, 11, 28)) == day and english.date(date(2026, 11, 28)) == "Nov 28, 2026"
    assert t.ngettext("{count} answer", "{count} answers", 2).format(count=2) == answers


@pytest.mark.parametrize("language", TRANSLATED)
def test_zero_and_millions_take_the_plural(language):
    t = translator(language)
    singular, plural = (
        t.ngettext("{count} answer", "{count} answers", 1),
        t.ngettext("{count} answer", "{count} answers", 2),
    )
    assert singular != plural
    assert [t.ngettext("{count} answer", "{count} answers", n) for n in (0, 1_000_000)] == [plural, plural]
