"""Who may use the console: one shared secret, CONSOLE_TOKEN, typed into a login form (which gives
a signed, expiring session cookie) or sent by scripts as `Authorization: Bearer <token>`."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from bot.config import MIN_SECRET_LENGTH, ConfigError, require_varied

SESSION_COOKIE = "maskbot_console"
SESSION_HOURS = 8
"""A working day: a forgotten browser tab stops being a way in by the next morning."""


def load_token(env: Mapping[str, str]) -> str:
    """CONSOLE_TOKEN, checked: the console does not start without a token nobody can guess."""
    token = env.get("CONSOLE_TOKEN", "").strip()
    make_one = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
    if len(token) < MIN_SECRET_LENGTH:
        raise ConfigError(f"CONSOLE_TOKEN must be set, at least {MIN_SECRET_LENGTH} characters: {make_one}")
    require_varied("CONSOLE_TOKEN", token, make_one)
    return token


def token_matches(candidate: str, token: str) -> bool:
    """Digests compared in constant time: the answer's timing tells nothing about the token, not
    even its length."""
    return hmac.compare_digest(hashlib.sha256(candidate.encode()).digest(), hashlib.sha256(token.encode()).digest())


def bearer(header: str) -> str:
    """The token of an `Authorization: Bearer <token>` header; "" for any other scheme."""
    scheme, _, credentials = header.partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


def cookie_secret(token: str) -> str:
    """The key that signs session cookies, derived from the token: a new token ends every session."""
    return hmac.new(token.encode(), b"maskbot console session", hashlib.sha256).hexdigest()


class Throttle:
    """Wrong tokens allowed per client address: a bucket of `burst` tries, refilled at one try every
    `interval` seconds. At most `size` addresses are remembered, the longest untouched forgotten
    first, so a flood of addresses takes constant memory; a forgotten address starts again with a
    full bucket, which gives such a flood nothing it lacks already (a bucket per address)."""

    def __init__(
        self,
        burst: int = 5,
        interval: float = 10.0,
        size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.interval = interval
        self.size = size
        self.clock = clock
        self._tries: OrderedDict[str, tuple[float, float]] = OrderedDict()
        """address -> (tries left, when that was counted)"""

    def __len__(self) -> int:
        return len(self._tries)

    def _left(self, address: str, now: float) -> float:
        left, counted = self._tries.get(address, (self.burst, now))
        return min(self.burst, left + (now - counted) / self.interval)

    def wait(self, address: str) -> float:
        """Seconds until `address` may try a token again; 0 when it may now."""
        left = self._left(address, self.clock())
        return 0.0 if left >= 1 else (1 - left) * self.interval

    def failed(self, address: str) -> bool:
        """Count a wrong token from `address`; True when that was its last try for now."""
        now = self.clock()
        left = self._left(address, now) - 1
        self._tries[address] = (left, now)
        self._tries.move_to_end(address)
        if len(self._tries) > self.size:
            self._tries.popitem(last=False)
        return left < 1
