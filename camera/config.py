"""A watcher's settings: the bot's (database, model, admins, bot token for alerts) and its own
`WATCH_*` variables, read and checked like the bot's, one clear line for a bad one."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.config import ConfigError, Settings, load_settings, whole_number
from console.auth import load_token
from storage.cameras import MAX_NAME

NAME_PATTERN = re.compile(rf"[A-Za-z0-9][A-Za-z0-9 ._-]{{0,{MAX_NAME - 1}}}")
"""A camera's name: shown to admins and in the console's addresses, so plain and short."""


@dataclass(frozen=True)
class WatchSettings:
    bot: Settings
    fps: float = 4.0
    alert_minutes: int = 10
    alert_share: float = 0.3
    alert_min_people: int = 20
    stream_port: int | None = None
    stream_host: str = "127.0.0.1"
    stream_url: str | None = None
    """Where the console reaches the live view (`http://watch-door:8091` in compose)."""
    console_token: str | None = None
    """The console's token, which the live view asks of whoever reads it (the console)."""

    @property
    def alerts(self) -> bool:
        """Whether threshold alerts can be sent: a bot token and admins to send them to."""
        return bool(self.bot.bot_token and self.bot.admin_ids)


def _fraction(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if not low < value <= high:
        raise ConfigError(f"{name} must be above {low:g} and at most {high:g}, not {raw}")
    return value


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            f"the camera's name must be 1 to 64 letters, digits, spaces, dots, _ or - (starting with a "
            f"letter or digit), not {name!r}"
        )
    return name


def load_watch_settings(env: Mapping[str, str] | None = None) -> WatchSettings:
    """Every setting a watcher reads; raises `ConfigError` naming the first bad variable."""
    env = os.environ if env is None else env
    settings = load_settings(env, require_token=False)
    port = whole_number(env, "WATCH_STREAM_PORT", None, minimum=1)
    host = env.get("WATCH_STREAM_HOST", "").strip() or WatchSettings.stream_host
    url = env.get("WATCH_STREAM_URL", "").strip() or None
    if url is not None and not url.startswith(("http://", "https://")):
        raise ConfigError(f"WATCH_STREAM_URL must be an http:// or https:// address, not {url!r}")
    token = load_token(env) if port is not None else None
    return WatchSettings(
        bot=settings,
        fps=_fraction(env, "WATCH_FPS", WatchSettings.fps, 0.0, 15.0),
        alert_minutes=whole_number(env, "WATCH_ALERT_MINUTES", WatchSettings.alert_minutes, minimum=1),
        alert_share=_fraction(env, "WATCH_ALERT_SHARE", WatchSettings.alert_share, 0.0, 1.0),
        alert_min_people=whole_number(env, "WATCH_ALERT_MIN_PEOPLE", WatchSettings.alert_min_people, minimum=1),
        stream_port=port,
        stream_host=host,
        stream_url=None if port is None else url or f"http://{host}:{port}",
        console_token=token,
    )
