"""Which language to answer each user in: their /language choice, kept in the database every
replica shares and cached here for a minute."""

from __future__ import annotations

import time

from bot.i18n import LANGUAGES, language_for
from bot.lanes import Lanes
from storage.pseudonyms import Pseudonymizer
from storage.repository import Repository

LANGUAGE_CACHE_SECONDS = 60.0
"""How long a replica trusts a language it read; a /language choice on another replica shows
here within this time."""


class LanguageChoices:
    def __init__(self, repository: Repository, pseudonymize: Pseudonymizer, lanes: Lanes) -> None:
        self.repository = repository
        self.pseudonymize = pseudonymize
        self.lanes = lanes
        self._read: dict[str, tuple[str | None, float]] = {}
        """Recent lookups by pseudonym, with when they were read: a photo's language need not wait
        for a database read queued behind other users' work."""

    async def language_of(self, user_id: int, language_code: str | None) -> str:
        """The language to answer this user in: their /language choice, else their Telegram
        client's language when the bot speaks it, else English."""
        user_hash = self.pseudonymize(user_id)
        cached = self._read.get(user_hash)
        if cached is not None and time.monotonic() - cached[1] < LANGUAGE_CACHE_SECONDS:
            chosen = cached[0]
        else:
            chosen = await self.lanes.in_database(self.repository.language_of, user_hash)
            if len(self._read) > 10_000:  # one entry per recent user: cleared, never grown past this
                self._read.clear()
            self._read[user_hash] = (chosen, time.monotonic())
        return chosen if chosen in LANGUAGES else language_for(language_code)

    async def choose(self, user_id: int, language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"no catalog for {language!r}")
        user_hash = self.pseudonymize(user_id)
        await self.lanes.in_database(self.repository.set_language, user_hash, language)
        self._read[user_hash] = (language, time.monotonic())

    def forget(self, user_hash: str) -> None:
        """Drop what this replica remembers of a user's choice (/forget)."""
        self._read.pop(user_hash, None)
