"""Sliding-window rate limits: per user, so one user's flood cannot slow everyone else down, and per
group, so one group's flood cannot either."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Coroutine, Hashable
from enum import Enum
from typing import Any, NamedTuple

from telegram.constants import FloodLimit
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter

UPDATES_PER_MINUTE = 30
"""Texts, commands and stickers one user may send a minute (photos have their own limit,
RATE_LIMIT_PER_MINUTE, and button presses BUTTON_PRESSES_PER_MINUTE): far above a person's pace,
far below a script's."""
BUTTON_PRESSES_PER_MINUTE = 30
"""Button presses one user may make a minute. A press may cost a download and a classification
("Why?" judges its photo again), so presses have a budget of their own, checked before any work:
rating every face of a group photo takes three presses a face, at a person's pace."""
GROUP_ANSWERS_PER_MINUTE = 15
"""Updates the bot answers in one group a minute, whoever sends them. Telegram lets a bot send 20
messages a minute to a group; the other 5 leave room for the "slow down" notice, "typing..." and
the edits of button presses."""


class Admission(NamedTuple):
    allowed: bool
    retry_in: float
    """Seconds until the next call would be allowed; 0 when allowed."""
    first_refusal: bool
    """Only the first refusal in a window deserves an answer: answering every message of a flood
    would itself flood the chat and spend the bot's Telegram send quota."""


class Limit(Enum):
    """Which budget refused an update (`bot.admission.AdmissionControl.admit`)."""

    UPLOADS = "uploads"
    """A sender's photos, image files and clips: each costs a download and a classification."""
    UPDATES = "updates"
    """A sender's other messages: texts, commands, stickers."""
    BUTTONS = "buttons"
    """A sender's button presses."""
    GROUP = "group"
    """The updates the bot answers in one group, whoever sends them."""

    @property
    def reason(self) -> str:
        """How logs and the errors metric name the refusal."""
        return "group_limited" if self is Limit.GROUP else "rate_limited"


class Refusal(NamedTuple):
    limit: Limit
    admission: Admission


class RateLimiter:
    """At most `limit` calls per key in any `window_seconds`; each check costs the same however
    many keys are active (the idle ones are dropped a few at a time, oldest first)."""

    def __init__(self, limit: int, window_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._events: OrderedDict[Hashable, deque[float]] = OrderedDict()
        """Each key's admissions in the window, the keys in the order of their latest admission:
        the idle ones are always at the front."""
        self._told: OrderedDict[Hashable, float] = OrderedDict()
        """When each key was last answered a refusal, oldest first."""
        self._lock = threading.Lock()

    def allow(self, key: Hashable) -> Admission:
        now = self._clock()
        with self._lock:
            self._drop_idle(now)
            events = self._events.get(key)
            if events is None:
                events = self._events[key] = deque()
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.limit:
                # At most one answer per window, however the flood is spread over it.
                first = key not in self._told
                if first:
                    self._told[key] = now
                return Admission(False, events[0] + self.window - now, first)
            events.append(now)
            self._events.move_to_end(key)
            return Admission(True, 0.0, False)

    def _drop_idle(self, now: float) -> None:
        """Drop the keys nothing was admitted for in a window, and refusals answered over a window
        ago: both sit at the front, so this costs O(1) per check amortised, not a scan of every key."""
        while self._events:
            key, events = next(iter(self._events.items()))
            if events and events[-1] > now - self.window:
                break
            del self._events[key]
        while self._told:
            key, told = next(iter(self._told.items()))
            if told > now - self.window:
                break
            del self._told[key]


class ChatFlooded(TelegramError):
    """A message to a group whose send budget for this minute is spent: refused at once, unsent."""


class GroupBudgetRateLimiter(AIORateLimiter):
    """python-telegram-bot's AIORateLimiter, keeping the bot to Telegram's 30 messages a second;
    a group's 20 messages a minute are kept here instead, without waiting.

    AIORateLimiter keeps a group to its 20 a minute by making the sender wait for the group's
    window, so a flood in one group made every handler answering there sleep while holding one
    of the bot's concurrent-update slots, and every other chat waited for a free slot. Here a
    message past a group's budget raises ChatFlooded at once: the handler ends and frees its
    slot. Floods rarely get this far: `bot.handlers.limit_update` stops a group's updates past
    GROUP_ANSWERS_PER_MINUTE before any handler runs."""

    def __init__(self, group_per_minute: int = FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP) -> None:
        # Retries after a 429 are with_retry's, capped (bot.handlers.common).
        super().__init__(group_max_rate=0, max_retries=0)
        self.groups = RateLimiter(group_per_minute)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat_id = data.get("chat_id")
        if chat_id is not None:
            with contextlib.suppress(ValueError, TypeError):
                chat_id = int(chat_id)
        # Messages (not look-ups such as getChatMember) to groups and channels as AIORateLimiter
        # tells them apart: a negative id, or a @username.
        posts = endpoint.startswith(("send", "edit", "copy", "forward"))
        if posts and ((isinstance(chat_id, int) and chat_id < 0) or isinstance(chat_id, str)):
            admission = self.groups.allow(chat_id)
            if not admission.allowed:
                raise ChatFlooded(f"the group's send budget is spent for {admission.retry_in:.0f} s")
        return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
