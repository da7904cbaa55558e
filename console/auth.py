"""Who may use the console: one shared secret, CONSOLE_TOKEN, typed into a login form (which gives
a signed, expiring session cookie) or sent by scripts as `Authorization: Bearer <token>`."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from bot.config import MIN_SECRET_LENGTH, ConfigError

SESSION_COOKIE = "maskbot_console"
SESSION_HOURS = 8
"""A working day: a forgotten browser tab stops being a way in by the next morning."""


def load_token(env: Mapping[str, str]) -> str:
    """CONSOLE_TOKEN, checked: the console does not start without a token nobody can guess."""
    token = env.get("CONSOLE_TOKEN", "").strip()
    if len(token) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"CONSOLE_TOKEN must be set, at least {MIN_SECRET_LENGTH} characters: "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
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
