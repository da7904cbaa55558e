"""The getUpdates sanitiser (bot.updates): whatever the Bot API answers, python-telegram-bot's
polling loop gets updates it can parse and whose ids it can add 1 to, and nothing else changes."""

from __future__ import annotations

import json
import logging

import pytest
from telegram import Update
from telegram.request import HTTPXRequest

from bot.updates import SanitisingRequest, sanitise, update_id_of

TEXT = {
    "update_id": 10,
    "message": {
        "message_id": 1,
        "date": 1_700_000_000,
        "chat": {"id": 42, "type": "private"},
        "from": {"id": 42, "is_bot": False, "first_name": "Ana"},
        "text": "hello",
    },
}
BARE = {"update_id": 11}


def answer(*updates: object, **extra: object) -> bytes:
    return json.dumps({"ok": True, "result": list(updates), **extra}).encode()


def result_of(payload: bytes) -> list:
    return json.loads(payload)["result"]


def polled(payload: bytes) -> list[Update]:
    """What the polling loop does with an answer: parse every update, then add 1 to the last id."""
    updates = Update.de_list(result_of(payload), None)
    if updates:
        assert updates[-1].update_id + 1 > updates[-1].update_id
    return updates


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"{",
        b"[" * 100_000,  # deeper than json.loads follows: RecursionError
        b'{"a":' * 100_000,
        b"[1, 2]",
        b"5",
        b"null",
        b'"ok"',
        b"true",
        b'{"ok": false, "error_code": 409, "description": "Conflict"}',
        b'{"ok": true}',
        b'{"ok": true, "result": {"update_id": 1}}',
        b'{"ok": true, "result": "[]"}',
        b'{"ok": true, "result": null}',
        b'{"result": [{"update_id": 1, "message": 5}]}',
        b'{"ok": 0, "result": [{"update_id": 1, "message": 5}]}',
    ],
)
def test_anything_but_a_successful_answer_passes_through_untouched(payload):
    assert sanitise(payload) == (payload, 0)


def test_an_answer_of_parseable_updates_is_returned_as_it_came():
    payload = answer(TEXT, BARE, {"update_id": 12, "message": {**TEXT["message"], "text": "ü" * 4096}})
    cleaned, dropped = sanitise(payload)
    assert cleaned is payload and dropped == 0
    assert sanitise(answer()) == (answer(), 0)


def test_an_unparseable_update_is_reduced_to_its_id_in_its_place():
    broken = {"update_id": 12, "message": 5}
    no_date = {"update_id": 13, "message": {"message_id": 1, "chat": {"id": 1, "type": "private"}}}
    cleaned, dropped = sanitise(answer(TEXT, broken, BARE, no_date))
    assert dropped == 2
    assert result_of(cleaned) == [TEXT, {"update_id": 12}, BARE, {"update_id": 13}]
    assert [update.update_id for update in polled(cleaned)] == [10, 12, 11, 13]


@pytest.mark.parametrize(
    "raw",
    [
        5,
        "update",
        None,
        [],
        [{"update_id": 1}],
        {},
        {"message": TEXT["message"]},
        {"update_id": "12", "message": TEXT["message"]},  # parses, then the loop's id + 1 raises TypeError
        {"update_id": "12"},
        {"update_id": 12.0},
        {"update_id": True},
        {"update_id": None},
        {"update_id": [12]},
    ],
    ids=repr,
)
def test_an_update_without_a_whole_number_id_is_left_out(raw):
    cleaned, dropped = sanitise(answer(TEXT, raw, BARE))
    assert dropped == 1
    assert result_of(cleaned) == [TEXT, BARE]
    assert [update.update_id for update in polled(cleaned)] == [10, 11]


def test_an_answer_of_nothing_but_unusable_updates_leaves_an_empty_list():
    cleaned, dropped = sanitise(answer({"message": 1}, 7, {"update_id": "x"}))
    assert (result_of(cleaned), dropped) == ([], 3)


def test_the_rest_of_the_answer_is_kept():
    cleaned, _ = sanitise(answer({"update_id": 5, "message": 5}, description="fine", extra={"a": [1, 2]}))
    assert json.loads(cleaned) == {
        "ok": True,
        "result": [{"update_id": 5}],
        "description": "fine",
        "extra": {"a": [1, 2]},
    }


def test_a_reply_chain_deeper_than_the_parser_follows_is_reduced_to_its_id():
    """JSON 600 levels deep loads, but python-telegram-bot parses each reply in a few frames of
    its own: past Python's recursion limit."""
    message = '{"message_id": 1, "date": 1, "chat": {"id": 1, "type": "private"}'
    chain = message + "}"
    for _ in range(600):
        chain = f'{message}, "reply_to_message": {chain}}}'
    nested = f'{{"ok": true, "result": [{{"update_id": 3, "message": {chain}}}, {json.dumps(BARE)}]}}'.encode()
    assert len(json.loads(nested)["result"]) == 2
    cleaned, dropped = sanitise(nested)
    assert (result_of(cleaned), dropped) == ([{"update_id": 3}, BARE], 1)


def test_a_large_answer_is_sanitised_update_by_update():
    updates = [{**TEXT, "update_id": n} if n % 2 else {"update_id": n, "message": n} for n in range(2_000)]
    cleaned, dropped = sanitise(answer(*updates))
    assert dropped == 1_000
    assert result_of(cleaned) == [{**TEXT, "update_id": n} if n % 2 else {"update_id": n} for n in range(2_000)]
    assert len(polled(cleaned)) == 2_000


def test_each_reduced_or_left_out_update_is_logged_by_id_and_error_type(caplog):
    with caplog.at_level(logging.WARNING, logger="bot.updates"):
        sanitise(answer(TEXT, {"update_id": 12, "message": 5}, {"message": 1}))
    assert [record.getMessage() for record in caplog.records] == [
        "event=malformed_update update_id=12 error=AttributeError",
        "event=malformed_update update_id=None error=ValueError",
    ]


@pytest.mark.parametrize(
    "raw, update_id",
    [
        ({"update_id": 7}, 7),
        ({"update_id": 0}, 0),
        ({"update_id": -3}, -3),
        ({"update_id": 2**70}, 2**70),
        ({"update_id": True}, None),
        ({"update_id": False}, None),
        ({"update_id": 7.0}, None),
        ({"update_id": "7"}, None),
        ({"update_id": None}, None),
        ({}, None),
        ([7], None),
        (7, None),
        (None, None),
        ("update_id", None),
    ],
    ids=repr,
)
def test_update_id_of(raw, update_id):
    assert update_id_of(raw) == update_id


# The transport: sanitises getUpdates answers only, and counts what it took out.


@pytest.fixture()
def served(monkeypatch):
    """What HTTPXRequest's own do_request answers (status, payload), and the calls it got."""
    served = {"status": 200, "payload": b"", "calls": []}

    async def do_request(self, url, method, request_data=None, *args, **kwargs):
        served["calls"].append((url, method, request_data, args, kwargs))
        return served["status"], served["payload"]

    monkeypatch.setattr(HTTPXRequest, "do_request", do_request)
    return served


@pytest.fixture()
async def request_and_counts():
    counts: list[int] = []
    request = SanitisingRequest(read_timeout=30, on_malformed=counts.append)
    yield request, counts
    await request.shutdown()


URL = "https://api.telegram.org/bot123:abc"
BAD = answer(TEXT, {"update_id": 12, "message": 5}, {"message": 1})


async def test_a_getupdates_answer_is_sanitised_and_counted(served, request_and_counts):
    request, counts = request_and_counts
    served["payload"] = BAD
    status, payload = await request.do_request(f"{URL}/getUpdates", "POST", None, 30.0, write_timeout=5.0)
    assert (status, result_of(payload), counts) == (200, [TEXT, {"update_id": 12}], [2])
    assert served["calls"] == [(f"{URL}/getUpdates", "POST", None, (30.0,), {"write_timeout": 5.0})]


async def test_a_clean_getupdates_answer_is_not_counted(served, request_and_counts):
    request, counts = request_and_counts
    served["payload"] = answer(TEXT)
    assert await request.do_request(f"{URL}/getUpdates", "POST") == (200, answer(TEXT))
    assert counts == []


@pytest.mark.parametrize("status, method", [(200, "sendMessage"), (200, "getUpdatesSoon"), (500, "getUpdates")])
async def test_other_answers_are_not_touched(served, request_and_counts, status, method):
    request, counts = request_and_counts
    served["status"], served["payload"] = status, BAD
    assert await request.do_request(f"{URL}/{method}", "POST") == (status, BAD)
    assert counts == []


async def test_without_a_counter_it_still_sanitises(served):
    request = SanitisingRequest()
    served["payload"] = BAD
    try:
        _, payload = await request.do_request(f"{URL}/getUpdates", "POST")
    finally:
        await request.shutdown()
    assert result_of(payload) == [TEXT, {"update_id": 12}]
