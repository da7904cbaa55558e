"""A getUpdates transport that drops updates python-telegram-bot cannot parse.

One malformed update would otherwise raise inside the library's polling loop and stop polling
for good. Each unparseable update is replaced by a bare `{"update_id": N}`: it is logged and
counted, the offset still moves past it, and no handler sees it.
"""

from __future__ import annotations

import json
import logging

from telegram import Update
from telegram.request import HTTPXRequest

log = logging.getLogger("bot.updates")


def sanitise(payload: bytes) -> tuple[bytes, int]:
    """(payload with unparseable updates reduced to their ids, how many were reduced)."""
    try:
        body = json.loads(payload)
    except ValueError:
        return payload, 0
    if not body.get("ok") or not isinstance(body.get("result"), list):
        return payload, 0
    cleaned, dropped = [], 0
    for raw in body["result"]:
        try:
            Update.de_json(raw, None)
            cleaned.append(raw)
        except Exception as error:  # whatever the parser raises, the update is unusable
            update_id = raw.get("update_id") if isinstance(raw, dict) else None
            if not isinstance(update_id, int):
                continue
            log.warning("event=malformed_update update_id=%s error=%s", update_id, type(error).__name__)
            cleaned.append({"update_id": update_id})
            dropped += 1
    return (json.dumps({**body, "result": cleaned}).encode(), dropped) if dropped else (payload, 0)


class SanitisingRequest(HTTPXRequest):
    """The HTTP client the Updater uses for getUpdates only."""

    def __init__(self, *args, on_malformed=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._on_malformed = on_malformed

    async def do_request(self, url, method, request_data=None, *args, **kwargs) -> tuple[int, bytes]:
        status, payload = await super().do_request(url, method, request_data, *args, **kwargs)
        if status == 200 and url.endswith("/getUpdates"):
            payload, dropped = sanitise(payload)
            if dropped and self._on_malformed is not None:
                self._on_malformed(dropped)
        return status, payload
