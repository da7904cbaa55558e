"""The threads the bot's blocking work runs on, each kind in a lane of its own, so that a burst of
one kind never makes another wait."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from model.images import slow_to_decode

T = TypeVar("T")


class Lanes:
    def __init__(self, inference_threads: int = 2) -> None:
        self.inference = ThreadPoolExecutor(max_workers=inference_threads, thread_name_prefix="inference")
        # The database has threads of its own: /forget, a button's answer or a /language lookup
        # never waits behind a burst of photos being decoded and judged.
        self.database = ThreadPoolExecutor(max_workers=2, thread_name_prefix="database")
        # Huge PNGs, WebPs and TIFFs (slow_to_decode) queue here, one at a time, so that a user
        # sending them delays only themselves, not everyone's photos on the inference threads.
        self.slow_decode = ThreadPoolExecutor(max_workers=1, thread_name_prefix="slow-decode")
        # Clips have a lane (and a byte budget, bot.judging) of their own: however many are
        # queued, photos never wait behind them. One clip is judged at a time (decoded in a process
        # of its own, then its frames searched for faces here).
        self.clips = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clips")

    async def run_blocking(self, work: Callable[..., T], *args) -> T:
        """Run blocking CPU work (drawing, loading a model) on the inference threads, off the
        event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.inference, work, *args)

    async def in_database(self, work: Callable[..., T], *args) -> T:
        """Run database work on the database's threads: never queued behind inference."""
        return await asyncio.get_running_loop().run_in_executor(self.database, work, *args)

    def for_photo(self, data: bytes) -> ThreadPoolExecutor:
        """The lane that decodes and judges this photo."""
        return self.slow_decode if slow_to_decode(data) else self.inference

    def close(self) -> None:
        """Finish the work in flight, then release the threads."""
        self.clips.shutdown(wait=True)
        self.slow_decode.shutdown(wait=True)
        self.inference.shutdown(wait=True)
        self.database.shutdown(wait=True)
