"""Settings from environment variables. The variable names are part of the public interface."""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import overload

from storage.database import DEFAULT_DATABASE_URL

TOKEN_PATTERN = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")
MIN_SECRET_LENGTH = 32
"""For WEBHOOK_SECRET, MASKBOT_SECRET and CONSOLE_TOKEN: guessing one is then out of reach."""
MIN_SECRET_BITS_PER_CHARACTER = 3.0
"""How varied a secret's characters must be: as varied as eight used equally often. A random one
has more (token_urlsafe(32): 4 to 5.4 bits a character, token_hex(32): 3.4 to 4, 32 random hex
digits: 2.8 to 4, refused about once in ten thousand); `a` x 32 has 0, `abcd` x 10 has 2 and
`password` x 5 has 2.75."""


class ConfigError(ValueError):
    """A missing or malformed setting; the message names the variable."""


def bits_per_character(secret: str) -> float:
    """Shannon's estimate from the secret's own character counts: what a repeated pattern lacks."""
    counts = Counter(secret).values()
    return -sum(count / len(secret) * math.log2(count / len(secret)) for count in counts) if secret else 0.0


def require_varied(name: str, secret: str, make_one: str) -> None:
    """Refuses a secret of MIN_SECRET_LENGTH or more that is still easy to guess, like `a` x 32."""
    bits = bits_per_character(secret)
    if bits < MIN_SECRET_BITS_PER_CHARACTER:
        raise ConfigError(
            f"{name} is too repetitive to be a secret ({bits:.1f} bits a character, at least "
            f"{MIN_SECRET_BITS_PER_CHARACTER:.0f} needed): {make_one}"
        )


@dataclass(frozen=True)
class Settings:
    bot_token: str = ""
    api_base_url: str = "https://api.telegram.org/bot"
    file_base_url: str = "https://api.telegram.org/file/bot"
    database_url: str = DEFAULT_DATABASE_URL
    admin_ids: frozenset[int] = field(default_factory=frozenset)
    secret: str | None = None
    model_dir: Path = Path("data/models")
    """A model registry (versions and a champion pointer), or one model folder."""
    data_dir: Path = Path("data")
    summary_time: time = time(0, 5)
    retention_days: int = 90
    log_level: str = "INFO"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    port: int | None = None
    rate_limit_per_minute: int = 10

    @property
    def crops_dir(self) -> Path:
        return self.data_dir / "crops"


@overload
def whole_number(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int: ...
@overload
def whole_number(env: Mapping[str, str], name: str, default: None, minimum: int = 0) -> int | None: ...
def whole_number(env: Mapping[str, str], name: str, default: int | None, minimum: int = 0) -> int | None:
    """The whole number `name` holds, at least `minimum`; `default` when it is unset or blank."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value}")
    return value


def load_settings(env: Mapping[str, str] | None = None, require_token: bool = True) -> Settings:
    """Read and check every setting; raises `ConfigError` naming the first bad variable."""
    env = os.environ if env is None else env
    token = env.get("BOT_TOKEN", "").strip()
    if require_token and not token:
        raise ConfigError("BOT_TOKEN is not set: ask @BotFather for a token and export BOT_TOKEN=...")
    if token and not TOKEN_PATTERN.match(token):
        raise ConfigError("BOT_TOKEN does not look like a Telegram token (digits, a colon, then letters)")
    try:
        admin_ids = frozenset(int(part) for part in env.get("ADMIN_IDS", "").replace(" ", "").split(",") if part)
    except ValueError:
        raise ConfigError("ADMIN_IDS must be comma-separated Telegram user ids, like 12345,67890") from None
    raw_time = env.get("SUMMARY_TIME", "00:05").strip()
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", raw_time)
    if not match:
        raise ConfigError(f"SUMMARY_TIME must be HH:MM in UTC, not {raw_time!r}")
    log_level = env.get("LOG_LEVEL", "INFO").strip().upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {log_level!r}")
    webhook_url = env.get("WEBHOOK_URL", "").strip() or None
    if webhook_url and not webhook_url.startswith("https://"):
        raise ConfigError("WEBHOOK_URL must be an https:// address that Telegram can reach")
    webhook_secret = env.get("WEBHOOK_SECRET", "").strip() or None
    if webhook_secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", webhook_secret):
        raise ConfigError("WEBHOOK_SECRET may hold only letters, digits, _ and - (1 to 256 characters)")
    # Without the secret, anyone who finds the webhook's address can post forged updates: admin
    # commands, other people's /forget, other people's feedback.
    if webhook_url and (webhook_secret is None or len(webhook_secret) < MIN_SECRET_LENGTH):
        raise ConfigError(
            f"WEBHOOK_SECRET must be set in webhook mode, at least {MIN_SECRET_LENGTH} characters "
            "(letters, digits, _ and -): python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    if webhook_url and webhook_secret is not None:
        require_varied("WEBHOOK_SECRET", webhook_secret, "python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    port = whole_number(env, "PORT", None, minimum=1)
    if webhook_url and port is None:
        raise ConfigError("PORT must be set in webhook mode (the port the reverse proxy forwards to)")
    secret = env.get("MASKBOT_SECRET") or None
    if secret is not None and len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"MASKBOT_SECRET must be at least {MIN_SECRET_LENGTH} characters, or unset to have one "
            "made in DATA_DIR: python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    if secret is not None:
        require_varied("MASKBOT_SECRET", secret, "python -c 'import secrets; print(secrets.token_hex(32))'")
    data_dir = Path(env.get("DATA_DIR", "").strip() or "data")
    model_dir = Path(env.get("MODEL_DIR", "").strip() or data_dir / "models")
    database_url = env.get("DATABASE_URL", "").strip() or f"sqlite:///{data_dir / 'maskbot.db'}"
    if "://" not in database_url:
        raise ConfigError(f"DATABASE_URL must be a URL like {DEFAULT_DATABASE_URL}, not {database_url!r}")
    return Settings(
        bot_token=token,
        api_base_url=env.get("TELEGRAM_API_BASE_URL", "").strip() or Settings.api_base_url,
        file_base_url=env.get("TELEGRAM_FILE_BASE_URL", "").strip() or Settings.file_base_url,
        database_url=database_url,
        admin_ids=admin_ids,
        secret=secret,
        model_dir=model_dir,
        data_dir=data_dir,
        summary_time=time(int(match.group(1)), int(match.group(2))),
        retention_days=whole_number(env, "RETENTION_DAYS", 90, minimum=1),
        log_level=log_level,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        port=port,
        rate_limit_per_minute=whole_number(env, "RATE_LIMIT_PER_MINUTE", 10, minimum=1),
    )
