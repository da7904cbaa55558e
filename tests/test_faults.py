"""Faults: nothing lost, nobody locked out. Kills, a broken database, a misbehaving Bot API."""

from __future__ import annotations

import itertools
import signal
import subprocess
import time

from sqlalchemy import create_engine, text

from tests.bot_harness import free_port, verdict_of
from tests.conftest import encode, face_like
from tests.fake_telegram import TOKEN
from tests.test_process import MASKBOT, maskbot_env


def verdicts(fake, chat_id=None):
    return [r for r in fake.calls("sendMessage", chat_id) if "%" in (r.params.get("text") or "?").splitlines()[0]]


def test_sigkill_mid_burst_loses_no_committed_prediction_and_answers_after_restart(fake, tmp_path, shipped_model_dir):
    env = maskbot_env(
        tmp_path,
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=fake.base_url,
        TELEGRAM_FILE_BASE_URL=fake.base_file_url,
        MODEL_DIR=str(shipped_model_dir),
        PORT=str(free_port()),
    )

    def start():
        return subprocess.Popen([*MASKBOT, "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def rows() -> int:
        engine = create_engine(env["DATABASE_URL"])
        with engine.connect() as connection:
            count = connection.execute(text("SELECT count(*) FROM predictions")).scalar()
        engine.dispose()
        return count

    process = start()
    try:
        fake.send_photo(1, encode(face_like(320, 240)))
        fake.replies_to(1, timeout=90)
        fake.delays["sendMessage"] = 0.2  # slow replies keep the burst in flight
        for user in range(100, 120):
            fake.send_photo(user, encode(face_like(640, 480, seed=user)))
        fake.wait_for(lambda: len(verdicts(fake)) >= 6, timeout=60, what="part of the burst")
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        answered_before = len(verdicts(fake))
        committed = rows()
        assert committed >= answered_before  # every answer sent had been committed first
        fake.delays.clear()
        process = start()
        # Updates fetched but unanswered at the kill were already confirmed to Telegram by the next
        # getUpdates offset; they are gone in Telegram too. What must hold: nothing committed is
        # lost and the bot answers again.
        fake.send_photo(200, encode(face_like(320, 240)))
        fake.wait_for(lambda: verdicts(fake, 200), timeout=120, what="an answer after the restart")
        assert rows() >= committed + 1
    finally:
        process.kill()
        process.wait(30)


def test_an_unreachable_database_still_gives_verdicts_and_counts_the_error(bot, fake, tmp_path, known_photo):
    (tmp_path / "not-a-folder").write_text("a file where the database's folder should be")
    bot.service.repository.database.engine = create_engine(f"sqlite:///{tmp_path / 'not-a-folder' / 'x.db'}")
    fake.send_photo(5, encode(known_photo("with_mask")))
    reply = fake.replies_to(5)[0]
    assert verdict_of(reply) == "with_mask" and "reply_markup" not in reply.params
    assert bot.metric("maskbot_errors_total", kind="database") == 1


def test_flood_control_429_is_waited_out_and_the_reply_arrives_once(bot, fake):
    fake.failures["sendMessage"] = [
        (
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 1",
                "parameters": {"retry_after": 1},
            },
        )
    ]
    started = time.time()
    fake.send_text(6, "/start")
    fake.wait_for(lambda: len(fake.calls("sendMessage", 6)) >= 2, what="the retried reply")
    attempts = fake.calls("sendMessage", 6)
    assert attempts[1].at - attempts[0].at >= 0.9 and time.time() - started < 10
    bot.wait_idle()
    assert len(fake.calls("sendMessage", 6)) == 2  # one refused, one delivered


def test_server_errors_are_retried_with_backoff(bot, fake):
    error = (500, {"ok": False, "error_code": 500, "description": "Internal Server Error"})
    fake.failures["sendMessage"] = [error, error]
    fake.send_text(7, "/help")
    fake.wait_for(lambda: len(fake.calls("sendMessage", 7)) >= 3, what="two retries")
    attempts = fake.calls("sendMessage", 7)
    gaps = [b.at - a.at for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.45 and gaps[1] >= 0.9  # 0.5 s, then 1 s: no tight loop


def test_polling_survives_failing_and_slow_get_updates(bot, fake):
    error = (502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})
    fake.failures["getUpdates"] = [error, error, error]
    fake.send_text(8, "/start")
    assert fake.replies_to(8, timeout=60)


def test_a_flood_from_one_user_does_not_delay_another(bot, fake):
    photo = encode(face_like(320, 240))
    for _ in range(300):
        fake.send_photo(9, photo)
    fake.send_photo(10, photo)
    started = time.time()
    fake.wait_for(lambda: verdicts(fake, 10), timeout=30, what="the other user's answer")
    assert time.time() - started < 10
    fake.wait_for(lambda: len(fake.calls("sendMessage", 9)) >= 11, timeout=60, what="the flood to be handled")
    bot.wait_idle()
    flood = fake.calls("sendMessage", 9)
    assert len(verdicts(fake, 9)) == 10 and len(flood) == 11  # ten verdicts, one "please wait", then quiet
    assert len(list(fake.calls("getFile"))) == 11  # refused photos are never downloaded


def test_malformed_updates_are_logged_and_skipped(bot, fake, caplog):
    fake.push({"message": {"message_id": "not a number", "chat": "nonsense"}})
    fake.push({"unknown_kind_of_update": {"x": 1}})
    fake.send_text(11, "/start")
    assert fake.replies_to(11)
    assert "event=malformed_update" in caplog.text
    fake.send_text(12, "/start")  # polling goes on
    assert fake.replies_to(12)


def test_a_text_flood_into_a_flood_controlled_chat_does_not_hold_up_anyone_else(bot, fake):
    fake.flooded_chats[60] = 60  # Telegram answers every message to chat 60 with "retry after 60 s"
    for i in range(70):
        fake.send_text(60, f"spam {i}")
    fake.wait_for(lambda: len(fake.calls("sendMessage", 60)) >= 3, what="the flooding chat's first replies")
    started = time.monotonic()
    fake.send_photo(61, encode(face_like(640, 480)))
    assert "%" in fake.replies_to(61, timeout=15)[0].params["text"].splitlines()[0]
    assert time.monotonic() - started < 10
    # Past the per-user limit the texts are dropped before any handler: 30 of 70 reach one.
    from bot.ratelimit import UPDATES_PER_MINUTE

    limited = f'maskbot_errors_total{{kind="rate_limited"}} {70 - UPDATES_PER_MINUTE}.0'
    fake.wait_for(lambda: limited in bot.metrics_text(), what="the limit to count the rest")
