"""The `maskbot` command as a process of its own, and the environment it runs in."""

from __future__ import annotations

import os
import sys

from tests.support.fake_telegram import TOKEN

MASKBOT = [sys.executable, "-m", "cli"]


def maskbot_env(tmp_path, **extra) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in ("BOT_TOKEN", "DATABASE_URL")}
    env.update(
        {
            "DATA_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'maskbot.db'}",
            "MASKBOT_SECRET": "process-test-secret-of-32-characters",
            "TF_CPP_MIN_LOG_LEVEL": "3",
        }
    )
    env.update(extra)
    return env


def bot_env(tmp_path, fake, model_dir, **extra) -> dict:
    """`maskbot_env` for `maskbot run` against the fake Bot API server `fake`."""
    return maskbot_env(
        tmp_path,
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=fake.base_url,
        TELEGRAM_FILE_BASE_URL=fake.base_file_url,
        MODEL_DIR=str(model_dir),
        **extra,
    )
