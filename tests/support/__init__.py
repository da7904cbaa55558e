"""What the tests share besides fixtures: the fake Bot API server and the bot running against
it, generated photos, records and model folders, the `maskbot` process. The fixtures themselves
are in tests/conftest.py and the plugins it names (bot_harness, storage_fixtures)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("MASKBOT_SHARED_DATA", ROOT.parent / "shared" / "data"))


def unavailable(reason: str) -> NoReturn:
    """Skip a test whose requirement (a server, the shared data, a browser) is missing here; under
    CI (`CI=true`, set by .ci/run) fail instead: CI has them all, and a skip there would hide it."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}, and CI must run these tests")
    pytest.skip(reason)


def shared_data_folder(folder: Path = SHARED_DATA) -> Path:
    """The shared data (../shared/data, or $MASKBOT_SHARED_DATA), when it is there."""
    if not (folder / "masks3").is_dir():
        unavailable(f"the shared data folder is absent ({folder})")
    return folder


async def until(condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    """Wait, letting the running event loop work, until `condition()` holds; fail naming `what`
    when it still does not after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.01)
