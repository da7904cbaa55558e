"""Per-user sliding-window rate limit, so one user's flood cannot slow everyone else down."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import NamedTuple

UPDATES_PER_MINUTE = 30
"""Texts, commands, stickers and button presses one user may send a minute (photos have their own
limit, RATE_LIMIT_PER_MINUTE): far above a person's pace, far below a script's."""


class Admission(NamedTuple):
    allowed: bool
    retry_in: float
    """Seconds until the next call would be allowed; 0 when allowed."""
    first_refusal: bool
    """Only the first refusal in a window deserves an answer: answering every message of a flood
    would itself flood the chat and spend the bot's Telegram send quota."""


class RateLimiter:
    def __init__(self, limit: int, window_seconds: float = 60.0, clock=time.monotonic) -> None:
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._told: dict[str, float] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> Admission:
        now = self._clock()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.limit:
                first = self._told.get(key, -1.0) < events[0]
                if first:
                    self._told[key] = now
                return Admission(False, events[0] + self.window - now, first)
            events.append(now)
            if len(self._events) > 10_000:
                self._drop_idle(now)
            return Admission(True, 0.0, False)

    def _drop_idle(self, now: float) -> None:
        idle = [key for key, events in self._events.items() if not events or events[-1] <= now - self.window]
        for key in idle:
            del self._events[key]
            self._told.pop(key, None)
