"""Sentences for people, kept translatable: an English template and the values it names.

The model layer says what to tell a person (a framing tip, why an image cannot be read) without
knowing the person's language. `bot.i18n` translates the template with gettext, then fills in
the values formatted for the person's locale; `str()` gives the English sentence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


def N_(template: str) -> str:
    """Marks a template for Babel's extraction (`pybabel extract -k N_`); translated later."""
    return template


@dataclass(frozen=True)
class Share:
    """A fraction shown as a percentage in the reader's locale ("4 %", "4%")."""

    value: float

    def __str__(self) -> str:
        return f"{self.value:.0%}"


@dataclass(frozen=True)
class Message:
    template: str
    """The English sentence with `{named}` placeholders: the gettext message id."""
    values: Mapping[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.template.format(**{name: str(value) for name, value in self.values.items()})
