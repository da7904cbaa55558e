"""Runs the real bot application in a thread against the fake Bot API server."""

from __future__ import annotations

import asyncio
import socket
import threading
import urllib.request

import pytest
from dataclasses import replace
from pathlib import Path

from bot.app import serve
from bot.config import Settings
from bot.ratelimit import RateLimiter
from bot.service import MaskService
from storage.database import Database
from storage.pseudonyms import Pseudonymizer
from storage.repository import Repository
from tests.fake_telegram import TOKEN, FakeTelegram

ADMIN_ID = 900


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RunningBot:
    def __init__(self, fake: FakeTelegram, settings: Settings, service: MaskService) -> None:
        self.fake = fake
        self.settings = settings
        self.service = service
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            await serve(self.settings, self.service, self._stop)

        try:
            asyncio.run(main())
        except BaseException as error:  # surfaced by stop()
            self.error = error
            self._ready.set()

    def start(self) -> RunningBot:
        self._thread.start()
        self._ready.wait(30)
        self.fake.wait_for(self.healthy, what="/healthz to answer 200")
        return self

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.settings.port}/healthz", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def metrics_text(self) -> str:
        """What Prometheus would scrape from /metrics."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.settings.port}/metrics", timeout=5) as response:
            return response.read().decode()

    def stop(self, timeout: float = 30) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the bot did not stop"
        if self.error is not None:
            raise self.error


def make_settings(fake: FakeTelegram, data_dir: Path, model_dir: Path, **overrides) -> Settings:
    settings = Settings(
        bot_token=TOKEN, api_base_url=fake.base_url, file_base_url=fake.base_file_url,
        database_url=f"sqlite:///{data_dir / 'maskbot.db'}", admin_ids=frozenset({ADMIN_ID}), secret="test-secret",
        model_dir=model_dir, data_dir=data_dir, retention_days=30, port=free_port(),
    )
    return replace(settings, **overrides)


def make_service(settings: Settings, predictor) -> MaskService:
    database = Database(settings.database_url)
    return MaskService(predictor, Repository(database, settings.crops_dir),
                       Pseudonymizer(settings.secret.encode()), RateLimiter(settings.rate_limit_per_minute))


@pytest.fixture
def fake():
    server = FakeTelegram().start()
    yield server
    server.stop()


@pytest.fixture
def bot(fake, tmp_path, predictor, shipped_model_dir):
    """The real application in a thread, polling the fake server, with the shipped model."""
    settings = make_settings(fake, tmp_path, shipped_model_dir)
    running = RunningBot(fake, settings, make_service(settings, predictor)).start()
    yield running
    running.stop()
