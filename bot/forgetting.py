"""/forget, and the photos and clips of a user's being answered that it must cancel or wait for,
so that nothing of theirs is written after it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from bot.lanes import Lanes
from bot.languages import LanguageChoices
from storage.pseudonyms import Pseudonymizer
from storage.repository import Deleted, Repository


@dataclass(eq=False)
class Work:
    """One photo or clip of a user's being answered, from its download to its rows (see
    `Forgetting.answering`)."""

    task: asyncio.Task[Any]
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    decoding: concurrent.futures.Future[Any] | None = None
    """Its decoding while it is in a lane: it may wait there behind other users' work."""
    decoded: bool = False
    """Whether its decoding is over: its rows may be being written."""
    forgotten: bool = False
    """Whether /forget cancelled it before its decoding started: nothing of it was judged or kept."""

    def cancel_unstarted(self) -> bool:
        """Cancel it if its decoding has not started (downloading, waiting for the decoding
        budget or queued in its lane); False once a thread is decoding it or after."""
        if self.decoded or (self.decoding is not None and not self.decoding.cancel()):
            return False  # running or done: its rows are being written, and /forget waits for them
        self.forgotten = True
        self.task.cancel()
        return True


_WORK: contextvars.ContextVar[Work | None] = contextvars.ContextVar("work", default=None)


def current_work() -> Work | None:
    """The `Work` the current task answers, for the judging to note its decoding in; None outside
    `Forgetting.answering`."""
    return _WORK.get()


class Forgetting:
    def __init__(
        self, repository: Repository, pseudonymize: Pseudonymizer, lanes: Lanes, languages: LanguageChoices
    ) -> None:
        self.repository = repository
        self.pseudonymize = pseudonymize
        self.lanes = lanes
        self.languages = languages
        self._answering: dict[str, set[Work]] = {}
        """The photos being answered, by their user's pseudonym (see `answering`)."""

    @contextlib.asynccontextmanager
    async def answering(self, user_id: int) -> AsyncIterator[Work]:
        """While one of this user's photos or clips is being answered, from its download to its
        rows: `forget` cancels it while its decoding has not started (the task then gets
        CancelledError, with the work's `forgotten` set), else waits for it, so nothing of
        theirs is written after /forget."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("answering runs in a task")
        user_hash = self.pseudonymize(user_id)
        work = Work(task)
        self._answering.setdefault(user_hash, set()).add(work)
        token = _WORK.set(work)
        try:
            yield work
        finally:
            _WORK.reset(token)
            work.done.set_result(None)
            pending = self._answering[user_hash]
            pending.discard(work)
            if not pending:
                del self._answering[user_hash]

    async def forget(self, user_id: int) -> Deleted:
        """Delete everything of this user. Their photos and clips not yet being decoded are
        cancelled (`Work.cancel_unstarted`); the ones being decoded are waited for, and their
        rows go too instead of arriving after. Other users' work is never waited for: the
        database has threads of its own."""
        user_hash = self.pseudonymize(user_id)
        pending = list(self._answering.get(user_hash, ()))
        for work in pending:
            work.cancel_unstarted()
        if pending:
            await asyncio.wait([work.done for work in pending])
        self.languages.forget(user_hash)
        return await self.lanes.in_database(self.repository.forget_user, user_hash)
