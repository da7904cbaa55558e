"""The Review page: the pending shared crops as a grid, filtered, accepted or rejected one by one
or in bulk, through `Repository.feedback_items` and `review` as `maskbot feedback review`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

import tornado.web

from console.views.base import WHOLE_NUMBER, ConsoleHandler
from model import CLASS_NAMES
from storage.repository import FeedbackFilter

log = logging.getLogger("console")

PAGE_SIZE = 48
"""Crops per review page: a screenful on a laptop, a short scroll on a phone."""
DECISIONS = {"accept": "accepted", "reject": "rejected", "pending": "pending"}
"""A review button's action and the status it gives."""


@dataclass(frozen=True)
class ReviewFilter:
    status: str
    label: str | None
    model: str | None
    page: int

    def query(self, **changes: Any) -> str:
        values = {"status": self.status, "label": self.label, "model": self.model, **changes}
        if self.page > 1 and "page" not in changes:
            values["page"] = self.page
        return urlencode({key: value for key, value in values.items() if value is not None})


class ReviewHandler(ConsoleHandler):
    def review_filter(self) -> ReviewFilter:
        status = self.get_argument("status", "pending")
        label = self.get_argument("label", "") or None
        if status not in DECISIONS.values():
            raise tornado.web.HTTPError(400, "status must be pending, accepted or rejected")
        if label is not None and label not in CLASS_NAMES:
            raise tornado.web.HTTPError(400, "label must be one of " + ", ".join(CLASS_NAMES))
        model = self.get_argument("model", "")[:32] or None
        return ReviewFilter(status, label, model, self.integer("page", 1, 1, 100_000))

    async def get(self) -> None:
        chosen = self.review_filter()
        repository = self.console.repository

        shown = FeedbackFilter(status=chosen.status, label=chosen.label, model_version=chosen.model, with_crop=True)

        def read():
            return (
                repository.feedback_items(shown, limit=PAGE_SIZE, offset=(chosen.page - 1) * PAGE_SIZE),
                repository.count_feedback(shown),
                repository.count_feedback(replace(shown, with_crop=False)),
                repository.feedback_model_versions(),
            )

        items, total, total_with_and_without_crop, versions = await self.blocking(read)
        pages = max(1, -(-total // PAGE_SIZE))
        if chosen.page > pages:  # the last page was just reviewed empty: go to the new last one
            self.redirect(f"/review?{chosen.query(page=pages)}")
            return
        self.render(
            "review.html",
            section="review",
            items=items,
            chosen=chosen,
            total=total,
            without_crop=total_with_and_without_crop - total,
            versions=versions,
            pages=pages,
            done=self.done_note(),
        )

    def done_note(self) -> str | None:
        status = self.get_argument("done", "")
        if status not in DECISIONS.values():
            return None
        changed = self.integer("changed", 0, 0, 10**9)
        missing = self.integer("missing", 0, 0, 10**9)
        note = f"{changed} marked {status}."
        if missing:
            note += f" {missing} no longer exist: their users used /forget, or retention deleted them."
        return note

    async def post(self) -> None:
        chosen = self.review_filter()
        one = self.get_body_argument("item", "")
        if one:
            action, _, raw_ids = one.partition(":")
            raw = [raw_ids]
        else:
            action, raw = self.get_body_argument("action", ""), self.get_body_arguments("id")
        if action not in DECISIONS:
            raise tornado.web.HTTPError(400, "the action must be accept, reject or pending")
        if not all(WHOLE_NUMBER.fullmatch(value) for value in raw):
            raise tornado.web.HTTPError(400, "feedback ids are whole numbers")
        ids = sorted({int(value) for value in raw})
        status = DECISIONS[action]
        changed = await self.blocking(self.console.repository.review, ids, status) if ids else 0
        log.info("event=console_review status=%s changed=%d asked=%d", status, changed, len(ids))
        if self.by_script:
            self.finish({"status": status, "changed": changed, "missing": len(ids) - changed})
            return
        self.redirect(f"/review?{chosen.query(done=status, changed=changed, missing=len(ids) - changed)}", status=303)
