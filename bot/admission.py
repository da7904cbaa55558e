"""Whether the bot takes an update at all: the rate limits of every update, and one clip at a time
per user."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from bot.ratelimit import (
    BUTTON_PRESSES_PER_MINUTE,
    GROUP_ANSWERS_PER_MINUTE,
    UPDATES_PER_MINUTE,
    Limit,
    RateLimiter,
    Refusal,
)
from storage.pseudonyms import Pseudonymizer


class AdmissionControl:
    """A `user_id` here is whoever the bot tells apart (`bot.handlers.common.sender_id`); it is
    kept in memory only as its pseudonym."""

    def __init__(self, pseudonymize: Pseudonymizer, uploads: RateLimiter) -> None:
        self.pseudonymize = pseudonymize
        self.limiters = {
            Limit.UPLOADS: uploads,
            Limit.BUTTONS: RateLimiter(BUTTON_PRESSES_PER_MINUTE),
            Limit.UPDATES: RateLimiter(UPDATES_PER_MINUTE),
        }
        self.groups = RateLimiter(GROUP_ANSWERS_PER_MINUTE)
        self._clipping: set[str] = set()
        """The pseudonyms of the users one of whose clips is being answered (see `one_clip`)."""

    def admit(self, user_id: int | None, limit: Limit, group: int | None) -> Refusal | None:
        """The rate limits of one update, all checked here: its sender's budget of its kind
        (`limit`: photos and clips, button presses, or other messages), then the budget of the
        group it came in (`group`: the chat's id, None outside groups). The first that refuses,
        or None.

        The group's id is only a key in memory here: never stored, never logged."""
        if user_id is not None:
            admission = self.limiters[limit].allow(self.pseudonymize(user_id))
            if not admission.allowed:
                return Refusal(limit, admission)
        if group is not None:
            admission = self.groups.allow(group)
            if not admission.allowed:
                return Refusal(Limit.GROUP, admission)
        return None

    @contextlib.contextmanager
    def one_clip(self, user_id: int) -> Iterator[bool]:
        """Whether this user may send a clip now: False while another clip of theirs is being
        answered (from its download to its answer), True otherwise, and then theirs until the
        block ends. A user cannot fill the clip lane by themselves."""
        user_hash = self.pseudonymize(user_id)
        if user_hash in self._clipping:
            yield False
            return
        self._clipping.add(user_hash)
        try:
            yield True
        finally:
            self._clipping.discard(user_hash)
