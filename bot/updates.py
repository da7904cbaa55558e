"""A getUpdates transport that drops updates python-telegram-bot cannot parse.

One malformed update would otherwise raise inside the library's polling loop and stop polling
for good. Each unparseable update is replaced by a bare `{"update_id": N}`: it is logged and
counted, the offset still moves past it, and no handler sees it. One without a whole-number
`update_id` to keep (the loop adds 1 to the last update's id) is left out, logged and counted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from telegram import Update
from telegram.request import HTTPXRequest, RequestData

log = logging.getLogger("bot.updates")


def update_id_of(raw: object) -> int | None:
    """An update's `update_id` when it is a whole number (JSON's true and false are not)."""
    update_id = raw.get("update_id") if isinstance(raw, dict) else None
    return update_id if isinstance(update_id, int) and not isinstance(update_id, bool) else None


def sanitise(payload: bytes) -> tuple[bytes, int]:
    """(payload with unparseable updates reduced to their ids, how many were reduced or left out).

    Anything but a successful getUpdates answer (not JSON, JSON nested deeper than the parser
    follows, not an object, `ok` false, no `result` list) comes back as it is, with 0: it is the
    library's to judge, outside its polling loop's update parsing."""
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError):  # not JSON (UnicodeDecodeError is a ValueError), or too deep
        return payload, 0
    if not isinstance(body, dict) or not body.get("ok") or not isinstance(body.get("result"), list):
        return payload, 0
    cleaned: list[object] = []
    dropped = 0
    for raw in body["result"]:
        update_id = update_id_of(raw)
        try:
            if update_id is None:
                raise ValueError("no whole-number update_id")
            Update.de_json(raw, None)
        except Exception as error:  # whatever the parser raises, the update is unusable
            log.warning("event=malformed_update update_id=%s error=%s", update_id, type(error).__name__)
            dropped += 1
            if update_id is not None:
                cleaned.append({"update_id": update_id})
        else:
            cleaned.append(raw)
    return (json.dumps({**body, "result": cleaned}).encode(), dropped) if dropped else (payload, 0)


class SanitisingRequest(HTTPXRequest):
    """The HTTP client the Updater uses for getUpdates only. `on_malformed` is called with how
    many updates of an answer were reduced or left out, when any were."""

    def __init__(self, *args: Any, on_malformed: Callable[[int], object] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_malformed = on_malformed

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, *args: Any, **kwargs: Any
    ) -> tuple[int, bytes]:
        status, payload = await super().do_request(url, method, request_data, *args, **kwargs)
        if status == 200 and url.endswith("/getUpdates"):
            payload, dropped = sanitise(payload)
            if dropped and self._on_malformed is not None:
                self._on_malformed(dropped)
        return status, payload
