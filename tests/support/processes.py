"""The `maskbot` command as a process of its own, the environment it runs in, and what a process
uses: CPU time and memory, read from /proc."""

from __future__ import annotations

import os
import sys
from pathlib import Path

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


def cpu_seconds(pid: int | str = "self") -> float:
    """The CPU time, user and system, process `pid` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def resident_mb(pid: int | str = "self") -> float:
    """What process `pid` holds in memory now (VmRSS), in MB."""
    return _status_kb(pid, "VmRSS") / 1024


def peak_memory_mb(pid: int | str = "self") -> float:
    """The most process `pid` has held in memory (VmHWM, which writing 5 to its clear_refs sets
    back to what it holds now), in MB."""
    return _status_kb(pid, "VmHWM") / 1024


def _status_kb(pid: int | str, field: str) -> int:
    line = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith(f"{field}:"))
    return int(line.split()[1])
