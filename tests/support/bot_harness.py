"""Runs the real bot application in a thread against the fake Bot API server."""

from __future__ import annotations

import asyncio
import socket
import threading
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import replies
from bot.app import build_application, serve
from bot.config import Settings
from bot.ratelimit import RateLimiter
from bot.service import MaskService
from storage.database import Database
from storage.pseudonyms import Pseudonymizer, load_secret
from storage.repository import Repository
from tests.support.fake_telegram import TOKEN, FakeTelegram

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
        self.application = build_application(settings, service)
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
            await serve(self.application, self._stop)

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

    def metric(self, name: str, **labels: str) -> float:
        """One sample from /metrics (0 when it was never counted)."""
        for family in text_string_to_metric_families(self.metrics_text()):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return sample.value
        return 0.0

    def wait_idle(self, timeout: float = 30) -> None:
        """Wait until every update sent so far is fetched and fully handled: what the bot has
        sent by then is all it sends for them."""
        self.fake.wait_for(lambda: not self.fake.pending_updates(), timeout=timeout, what="updates to be fetched")
        # Every handled update is marked done on the application's queue (python-telegram-bot's
        # own bookkeeping), so joining the queue waits for the last handler to return.
        if self._loop is None:
            raise RuntimeError("the bot is not running: start() it first")
        asyncio.run_coroutine_threadsafe(self.application.update_queue.join(), self._loop).result(timeout)

    def stop(self, timeout: float = 30) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the bot did not stop"
        if self.error is not None:
            raise self.error


def first_line(request) -> str:
    return request.params["text"].splitlines()[0]


def verdict_of(request) -> str:
    """The label a reply's first line gives ("unsure" for Not sure); fails on anything else."""
    line = first_line(request)
    if line.startswith(f"🤔 {replies.NOT_SURE} ("):
        return "unsure"
    for label, (emoji, phrase) in replies.VERDICT.items():
        if line.startswith(f"{emoji} {phrase} (") and line.endswith("% sure)"):
            return label
    raise AssertionError(f"not a verdict: {line!r}")


def make_settings(fake: FakeTelegram, data_dir: Path, model_dir: Path, **overrides) -> Settings:
    settings = Settings(
        bot_token=TOKEN,
        api_base_url=fake.base_url,
        file_base_url=fake.base_file_url,
        database_url=f"sqlite:///{data_dir / 'maskbot.db'}",
        admin_ids=frozenset({ADMIN_ID}),
        secret="test-secret",
        model_dir=model_dir,
        data_dir=data_dir,
        retention_days=30,
        port=free_port(),
    )
    return replace(settings, **overrides)


def make_service(settings: Settings, predictor) -> MaskService:
    database = Database(settings.database_url)
    return MaskService(
        predictor,
        Repository(database),
        Pseudonymizer(load_secret(settings.data_dir, settings.secret)),
        RateLimiter(settings.rate_limit_per_minute),
    )


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
