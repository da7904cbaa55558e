"""Keeping big photos from taking all the memory: a budget of bytes held at once, and giving
freed memory back to the system."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import os
from collections import deque
from collections.abc import AsyncIterator

log = logging.getLogger(__name__)


class ByteBudget:
    """At most `limit` bytes held at once, granted in arrival order (a big photo is not passed
    over for ever by small ones); one item larger than the whole budget still goes, alone."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    @property
    def idle(self) -> bool:
        return self.held == 0 and not self._waiting

    @contextlib.asynccontextmanager
    async def hold(self, size: int) -> AsyncIterator[None]:
        size = max(0, min(size, self.limit))
        if self._waiting or self.held + size > self.limit:
            waiter = (size, asyncio.get_running_loop().create_future())
            self._waiting.append(waiter)
            try:
                await waiter[1]
            except asyncio.CancelledError:
                if waiter[1].done() and not waiter[1].cancelled():
                    self._release(size)  # granted, then cancelled before it could run
                else:
                    self._waiting.remove(waiter)
                    self._grant()  # the head may have left: who is next may fit now
                raise
        else:
            self.held += size
        try:
            yield
        finally:
            self._release(size)

    def _release(self, size: int) -> None:
        self.held -= size
        self._grant()

    def _grant(self) -> None:
        while self._waiting and self.held + self._waiting[0][0] <= self.limit:
            size, future = self._waiting.popleft()
            self.held += size
            future.set_result(None)


def _c_library() -> ctypes.CDLL | None:
    with contextlib.suppress(OSError, TypeError):
        return ctypes.CDLL(ctypes.util.find_library("c"))
    return None


_LIBC = _c_library()  # found once: find_library asks ldconfig, milliseconds of every start
# glibc's functions, None on a C library without them (musl, macOS).
_TRIM = getattr(_LIBC, "malloc_trim", None)
_MALLOPT = getattr(_LIBC, "mallopt", None)
M_ARENA_MAX = -8
"""mallopt's parameter for the number of malloc arenas (glibc's malloc.h)."""
MALLOC_ARENAS = 2
"""The main thread's arena and one that every other thread shares. glibc's default, eight per
core, let each of the threads that touch photos (inference, the slow lane, downloads) keep freed
buffers in an arena of its own: measured at 30 photos a second (docs/measurements.md,
"Footprint"), the peak fell from 480 to 437 MB with two, at the same latency."""


def limit_malloc_arenas() -> None:
    """Call before the threads start: arenas are made as threads first allocate. An operator's
    own MALLOC_ARENA_MAX is left as they set it."""
    if _MALLOPT is not None and "MALLOC_ARENA_MAX" not in os.environ:
        _MALLOPT(M_ARENA_MAX, MALLOC_ARENAS)


def give_back_memory() -> None:
    """Return freed heap memory to the system. glibc keeps what big photos' buffers freed in its
    arenas (every inference thread has its own), so after a burst of big photos the process
    would stay at its peak size for good; malloc_trim hands the free pages back."""
    if _TRIM is not None:
        _TRIM(0)
