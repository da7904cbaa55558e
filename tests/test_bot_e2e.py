"""End to end: the real application, python-telegram-bot and HTTP to a Bot API server on 127.0.0.1.

Every test asserts on the requests the bot actually made.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy import update as sql_update

from bot import replies
from bot.i18n import translator
from model.explain import explain
from storage import cameras
from storage.tables import Crop, Feedback, PredictionRow
from tests.support.bot_harness import ADMIN_ID, RunningBot, free_port, make_service, make_settings, verdict_of
from tests.support.models import cut_short, shipped_registry
from tests.support.photos import encode, face_like, textured
from tests.support.storage_fixtures import record


def count_rows(bot, table) -> int:
    with bot.service.repository.database.session() as session:
        return session.scalar(select(func.count()).select_from(table))


@pytest.mark.parametrize(
    "language, first",
    [("es", "Qué hago y cómo tomar una buena foto"), ("pt", "O que eu faço e como tirar uma boa foto")],
)
def test_start_up_sets_public_and_admin_menus_in_every_language(bot, fake, language, first):
    menus = fake.wait_for(lambda: len(fake.calls("setMyCommands")) >= 6 and fake.calls("setMyCommands"))
    public = {m.params.get("language_code"): m.params["commands"] for m in menus if "scope" not in m.params}
    admin = {m.params.get("language_code"): m.params for m in menus if "scope" in m.params}
    assert set(public) == set(admin) == {None, "es", "pt"}  # English for every client without its own menu
    assert [c["command"] for c in public[None]] == ["start", "help", "privacy", "forget", "language"]
    assert [c["command"] for c in public[language]] == [c["command"] for c in public[None]]
    assert public[None][0]["description"] == "What I do and how to take a good photo"
    assert public[language][0]["description"] == first
    assert admin[language]["scope"] == {"type": "chat", "chat_id": ADMIN_ID}
    assert "stats" in [c["command"] for c in admin[language]["commands"]]


def test_start_and_privacy_explain_themselves(bot, fake):
    fake.send_text(1, "/start")
    assert "photo" in fake.replies_to(1)[0].params["text"]
    fake.send_text(1, "/privacy")
    text = fake.replies_to(1, 2)[1].params["text"]
    assert "30 days" in text and "/forget" in text and "pseudonym" in text
    assert "<i>Right</i> or <i>Wrong</i>" in text  # both ask for consent before a crop is kept


def test_a_photo_gets_one_verdict_and_feedback_buttons(bot, fake, known_photo):
    fake.send_photo(5, encode(known_photo("without_mask")))
    reply = fake.replies_to(5)[0]
    assert verdict_of(reply) == "without_mask"
    assert not fake.calls("sendChatAction", 5), "a quick answer needs no typing indicator"
    assert [r.method for r in fake.requests if r.method in ("getFile", "download")] == ["getFile", "download"]
    buttons = reply.params["reply_markup"]["inline_keyboard"][0]
    assert [b["text"] for b in buttons] == ["👍 Right", "👎 Wrong", "🔍 Why?"]
    # It replies to the photo, in a private chat too: "Why?" finds the photo there.
    assert reply.params["reply_parameters"]["message_id"] == fake.sent_message(reply)["reply_to_message"]["message_id"]
    assert count_rows(bot, PredictionRow) == 1
    with bot.service.repository.database.session() as session:
        row = session.scalars(select(PredictionRow)).one()
    assert row.user_hash != "5" and len(row.user_hash) == 64 and row.input_kind == "photo"


def test_a_slow_answer_shows_typing_first(bot, fake, known_photo):
    fake.delays["getFile"] = 1.5
    try:
        fake.send_photo(5, encode(known_photo("with_mask")))
        reply = fake.replies_to(5)[0]
    finally:
        fake.delays.clear()
    typing = fake.calls("sendChatAction", 5)
    assert [t.params["action"] for t in typing] == ["typing"]
    assert typing[0].at < reply.at
    assert verdict_of(reply) == "with_mask"


def test_a_real_masked_face_is_recognised(bot, fake, shared_data):
    fake.send_photo(6, (shared_data / "masks3" / "with_mask" / "with_mask_1.jpg").read_bytes())
    assert verdict_of(fake.replies_to(6)[0]) == "with_mask"


BAD_INPUTS = {
    "text": (lambda f: f.send_text(10, "hello there"), "photo of your face"),
    "sticker": (
        lambda f: f.message(
            11,
            sticker={
                "file_id": "s",
                "file_unique_id": "s",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
            },
        ),
        "sticker",
    ),
    "video": (
        lambda f: f.message(12, video={"file_id": "v", "file_unique_id": "v", "width": 1, "height": 1, "duration": 3}),
        "only 1x1 pixels",  # clips are checked (tests/test_video.py), a 1x1 one refused before downloading
    ),
    "voice": (lambda f: f.message(13, voice={"file_id": "a", "file_unique_id": "a", "duration": 2}), "listen"),
    "pdf": (lambda f: f.send_document(14, b"%PDF-1.4 fake", "report.pdf", "application/pdf"), "not a PDF"),
    "huge document": (
        lambda f: f.send_document(15, b"x", "big.jpg", "image/jpeg", size=25 * 1024 * 1024),
        "up to 20 MB",
    ),
    "corrupt photo": (lambda f: f.send_photo(16, encode(face_like(640, 480))[:2000]), "damaged"),
    "fake image": (lambda f: f.send_document(17, b"this is not a png", "face.png", "image/png"), "not an image"),
    "1x1 image": (
        lambda f: f.send_document(18, encode(Image.new("RGB", (1, 1)), "PNG"), "dot.png", "image/png"),
        "1x1",
    ),
    "decompression bomb": (
        lambda f: f.send_document(19, encode(Image.new("L", (20000, 20000)), "PNG"), "bomb.png", "image/png"),
        "too large",
    ),
    "animated gif": (
        lambda f: f.message(
            20, animation={"file_id": "g", "file_unique_id": "g", "width": 1, "height": 1, "duration": 1}
        ),
        "only 1x1 pixels",
    ),
    "location": (lambda f: f.message(21, location={"latitude": 1.0, "longitude": 2.0}), "only check photos"),
    "unknown command": (lambda f: f.send_text(22, "/frobnicate"), "don't know that command"),
    # No mask verdict on the middle of a picture without a face: a black 16 MP PNG, a wall, a sky.
    "black picture": (
        lambda f: f.send_document(23, encode(Image.new("RGB", (4000, 4000)), "PNG"), "black.png", "image/png"),
        "can't find a face",
    ),
    "picture without a face": (lambda f: f.send_photo(24, encode(textured(1280, 960))), "can't find a face"),
    "black 40 MP picture": (
        lambda f: f.send_document(25, encode(Image.new("RGB", (6300, 6300)), "PNG"), "black.png", "image/png"),
        "too large to check",
    ),
}


@pytest.mark.parametrize("kind", list(BAD_INPUTS))
def test_everything_else_gets_one_helpful_answer(bot, fake, kind):
    send, expected = BAD_INPUTS[kind]
    update_id = send(fake)
    chat_id = 10 + list(BAD_INPUTS).index(kind)
    reply = fake.replies_to(chat_id)[0]
    assert expected in reply.params["text"], (update_id, reply.params["text"])
    bot.wait_idle()
    assert len(fake.calls("sendMessage", chat_id)) == 1
    if kind == "huge document":
        assert not fake.calls("getFile")


ODD_FORMATS = {
    "cmyk": ("jpeg", lambda photo: encode(photo.convert("CMYK"))),
    "16-bit": (
        "png",
        lambda photo: encode(Image.fromarray(np.asarray(photo.convert("L")).astype(np.uint16) * 257), "PNG"),
    ),
    "animated gif as a file": (
        "gif",
        lambda photo: encode(photo, "GIF", save_all=True, append_images=[textured(*photo.size)]),
    ),
}


@pytest.mark.parametrize("name", list(ODD_FORMATS))
def test_odd_but_valid_images_get_the_right_verdict(bot, fake, known_photo, name):
    fmt, convert = ODD_FORMATS[name]
    fake.send_document(30, convert(known_photo("without_mask")), f"{name}.{fmt}", f"image/{fmt}")
    assert verdict_of(fake.replies_to(30)[0]) == "without_mask"


def test_exif_rotated_selfie_is_measured_upright(bot, fake, known_photo):
    exif = Image.Exif()
    exif[0x0112] = 6
    # Stored as the phone's sensor saw it, lying on its side; EXIF says to turn it upright.
    upright = known_photo("with_mask")
    sideways = upright.transpose(Image.Transpose.ROTATE_90)
    fake.send_document(31, encode(sideways, exif=exif.tobytes()), "selfie.jpg", "image/jpeg")
    assert verdict_of(fake.replies_to(31)[0]) == "with_mask"
    with bot.service.repository.database.session() as session:
        row = session.scalars(select(PredictionRow)).one()
    assert (row.image_width, row.image_height, row.input_kind) == (*upright.size, "document")


def test_wrong_then_label_then_consent_stores_the_crop(bot, fake):
    fake.send_photo(40, encode(face_like(640, 480)))
    reply = fake.replies_to(40)[0]
    wrong = reply.params["reply_markup"]["inline_keyboard"][0][1]["callback_data"]
    fake.press(40, reply, wrong)
    labels = fake.wait_for(lambda: fake.calls("editMessageReplyMarkup"))[0].params["reply_markup"]
    # The two labels other than the answer (for "Not sure": other than its best guess).
    assert len(labels["inline_keyboard"][0]) == 2
    fake.press(40, reply, labels["inline_keyboard"][0][0]["callback_data"])
    consent = fake.wait_for(
        lambda: len(fake.calls("editMessageReplyMarkup")) >= 2 and fake.calls("editMessageReplyMarkup")
    )[1].params["reply_markup"]
    fake.press(40, reply, consent["inline_keyboard"][0][0]["callback_data"])
    thanks = fake.wait_for(lambda: fake.calls("editMessageText"))[0]
    assert "Thanks for your feedback" in thanks.params["text"] and "reply_markup" not in thanks.params
    with bot.service.repository.database.session() as session:
        feedback = session.scalars(select(Feedback)).one()
        crop = session.get(Crop, feedback.prediction_id)
    assert not feedback.is_correct and feedback.corrected_label is not None and crop.shared
    picture = Image.open(io.BytesIO(crop.png))
    assert picture.size == (128, 128) and not picture.getexif()


def test_declining_to_share_keeps_no_crop_and_right_is_recorded(bot, fake):
    fake.send_photo(41, encode(face_like(640, 480)))
    reply = fake.replies_to(41)[0]
    prediction_id = reply.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"].split("|")[1]
    fake.press(41, reply, f"fb|{prediction_id}|share|1|0")
    fake.wait_for(lambda: fake.calls("editMessageText"))
    fake.send_photo(41, encode(face_like(640, 480, seed=3)))
    second = fake.replies_to(41, 2)[1]
    fake.press(41, second, second.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"])  # Right
    consent = fake.wait_for(lambda: fake.calls("editMessageReplyMarkup"))[0].params["reply_markup"]
    fake.press(41, second, consent["inline_keyboard"][0][0]["callback_data"])  # yes, share
    fake.wait_for(lambda: len(fake.calls("editMessageText")) >= 2)
    with bot.service.repository.database.session() as session:
        rows = session.scalars(select(Feedback).order_by(Feedback.id)).all()
        kept = session.scalars(select(Crop)).all()
    assert [r.is_correct for r in rows] == [False, True]
    assert [(c.prediction_id, c.shared) for c in kept] == [(rows[1].prediction_id, True)]  # the declined one is gone


def test_only_the_sender_can_rate_an_answer(bot, fake):
    fake.send_photo(42, encode(face_like(640, 480)))
    reply = fake.replies_to(42)[0]
    fake.press(43, reply, reply.params["reply_markup"]["inline_keyboard"][0][1]["callback_data"])
    answer = fake.wait_for(lambda: fake.calls("answerCallbackQuery"))[0]
    assert "Only the person" in answer.params["text"] and answer.params["show_alert"] in (True, "true")
    assert not fake.calls("editMessageReplyMarkup") and count_rows(bot, Feedback) == 0


def test_forget_deletes_after_confirmation_by_the_requester_only(bot, fake):
    for seed in range(2):
        fake.send_photo(50, encode(face_like(640, 480, seed=seed)))
    fake.replies_to(50, 2)
    fake.send_photo(51, encode(face_like(640, 480)))
    fake.replies_to(51)
    fake.send_text(50, "/forget")
    confirm = fake.replies_to(50, 3)[2]
    yes, cancel = (b["callback_data"] for b in confirm.params["reply_markup"]["inline_keyboard"][0])
    assert yes.startswith("forget|yes|") and cancel.startswith("forget|no|") and "50" not in yes
    fake.press(51, confirm, yes)  # another member of a group presses the prompt
    refusal = fake.wait_for(lambda: fake.calls("answerCallbackQuery"))[0]
    assert "Only the person who sent /forget" in refusal.params["text"]
    assert count_rows(bot, PredictionRow) == 3 and not fake.calls("editMessageText")
    fake.press(50, confirm, cancel)
    cancelled = fake.wait_for(lambda: fake.calls("editMessageText"))[0]
    assert cancelled.params["text"] == "Nothing was deleted." and count_rows(bot, PredictionRow) == 3
    fake.press(50, confirm, yes)
    done = fake.wait_for(lambda: len(fake.calls("editMessageText")) >= 3 and fake.calls("editMessageText"))[2]
    assert "deleted 2 answers" in done.params["text"]
    assert count_rows(bot, PredictionRow) == 1


@pytest.mark.parametrize(
    "data",
    [
        "fb|1|share|7|1",
        "fb|99999999999999999999999|ok",
        "fb|1|frob",
        "fb|0|ok",
        "fb|1|is|9",
        "fb|1|share|right|2",
        "fb|1|ok|extra",
        "fb|1|face|2",
        "fb|1|faces|1",
        "forget|yes",
        "forget|yes|zz",
        "something else",
        "",
    ],
)
def test_malformed_buttons_get_a_quiet_answer(bot, fake, data):
    fake.send_photo(52, encode(face_like(640, 480)))
    reply = fake.replies_to(52)[0]
    fake.press(52, reply, data)
    answer = fake.wait_for(lambda: fake.calls("answerCallbackQuery"))[0]
    assert "no longer works" in answer.params["text"]
    bot.wait_idle()
    assert len(fake.calls("sendMessage", 52)) == 1 and not fake.calls("editMessageText")
    assert count_rows(bot, Feedback) == 0
    assert 'kind="handler"' not in bot.metrics_text()


def test_files_too_big_for_telegram_or_bigger_than_declared_are_refused(bot, fake, monkeypatch):
    from bot.handlers import photos

    fake.failures["getFile"] = [(400, {"ok": False, "error_code": 400, "description": "Bad Request: file is too big"})]
    fake.send_photo(55, encode(face_like(640, 480)))
    assert "larger than the 20 MB" in fake.replies_to(55)[0].params["text"]
    monkeypatch.setattr(photos, "MAX_DOWNLOAD_BYTES", 50_000)
    noisy = Image.fromarray(np.random.default_rng(0).integers(0, 255, (600, 800, 3), dtype=np.uint8))
    fake.send_photo(56, encode(noisy, quality=95), size=1_000)  # declares 1 KB, serves far more
    assert "larger than the 0 MB" in fake.replies_to(56)[0].params["text"]
    assert count_rows(bot, PredictionRow) == 0


def test_channel_posts_and_edits_are_left_alone(bot, fake):
    file_id, size = fake.add_file(encode(face_like(640, 480)))
    photo = [{"file_id": file_id, "file_unique_id": "u", "width": 640, "height": 480, "file_size": size}]
    channel = {"id": -100123, "type": "channel", "title": "News"}
    fake.push({"channel_post": {"message_id": 1, "date": int(time.time()), "chat": channel, "photo": photo}})
    fake.push({"channel_post": {"message_id": 2, "date": int(time.time()), "chat": channel, "text": "/forget"}})
    fake.push(
        {
            "edited_message": {
                "message_id": 3,
                "date": int(time.time()),
                "edit_date": int(time.time()),
                "chat": fake.chat(54),
                "from": fake.user(54),
                "photo": photo,
            }
        }
    )
    fake.send_text(54, "/start")  # processed after the three: the bot is still answering
    assert "photo" in fake.replies_to(54)[0].params["text"]
    bot.wait_idle()
    assert len(fake.calls("sendMessage")) == 1 and not fake.calls("getFile")
    assert count_rows(bot, PredictionRow) == 0
    assert "handler_error" not in bot.metrics_text() and 'kind="AttributeError"' not in bot.metrics_text()


def test_an_answer_cannot_be_relabelled_but_consent_can_be_withdrawn(bot, fake):
    fake.send_photo(53, encode(face_like(640, 480)))
    reply = fake.replies_to(53)[0]
    token = reply.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"].split("|")[1]
    prediction_id = bot.service.button_tags.prediction_of(token, 53)
    fake.press(53, reply, f"fb|{token}|share|0|1")  # "it is a mask on", share the crop
    fake.wait_for(lambda: fake.calls("editMessageText"))
    with bot.service.repository.database.session() as session:
        assert session.get(Crop, prediction_id).shared
    fake.press(53, reply, f"fb|{token}|share|2|1")  # a replayed button with another label
    answers = fake.wait_for(lambda: len(fake.calls("answerCallbackQuery")) >= 2 and fake.calls("answerCallbackQuery"))
    assert "already rated" in answers[1].params["text"]
    fake.press(53, reply, f"fb|{token}|share|0|0")  # changed their mind about sharing
    answers = fake.wait_for(lambda: len(fake.calls("answerCallbackQuery")) >= 3 and fake.calls("answerCallbackQuery"))
    assert "crop you shared is deleted" in answers[2].params["text"]
    with bot.service.repository.database.session() as session:
        feedback = session.scalars(select(Feedback)).one()
        assert session.get(Crop, prediction_id) is None
    assert feedback.corrected_label == "with_mask"


def test_admin_commands_answer_admins_and_do_not_exist_for_others(bot, fake):
    fake.send_photo(ADMIN_ID, encode(face_like(640, 480)))
    fake.replies_to(ADMIN_ID)
    fake.send_text(ADMIN_ID, "/stats 3")
    table = fake.replies_to(ADMIN_ID, 2)[1].params["text"]
    assert "Photos checked: 1" in table and "Drift level" in table
    chart = fake.wait_for(lambda: fake.calls("sendPhoto", ADMIN_ID))[0]
    assert chart.params["photo"][:8] == b"\x89PNG\r\n\x1a\n"
    fake.send_text(ADMIN_ID, "/model")
    assert "balanced accuracy" in fake.replies_to(ADMIN_ID, 3)[2].params["text"]
    fake.send_text(ADMIN_ID, "/drift")
    assert fake.replies_to(ADMIN_ID, 4)[3].params["text"] == replies.drift_report(
        [], translator("en")
    )  # no finished day
    for command in ("/stats", "/drift", "/model"):
        fake.send_text(60, command)
    others = fake.replies_to(60, 3)
    assert {r.params["text"] for r in others} == {replies.UNKNOWN_COMMAND}
    assert not fake.calls("sendPhoto", 60)


@pytest.mark.parametrize("argument", ["abc", "0", "366", "-3", "1e3"])
def test_stats_explains_its_argument_instead_of_guessing(bot, fake, argument):
    fake.send_text(ADMIN_ID, f"/stats {argument}")
    assert fake.replies_to(ADMIN_ID)[0].params["text"] == replies.STATS_USAGE.format(most=365)
    bot.wait_idle()
    assert not fake.calls("sendPhoto", ADMIN_ID)


def test_the_daily_purge_is_scheduled_and_runs_after_start_up(fake, tmp_path, predictor, shipped_model_dir):
    settings = make_settings(fake, tmp_path, shipped_model_dir, retention_days=30)
    service = make_service(settings, predictor)
    long_ago = datetime.now(UTC) - timedelta(days=31)
    for at in (long_ago, datetime.now(UTC)):
        service.repository.record_prediction(record("someone", at=at, version=predictor.version))
    running = RunningBot(fake, settings, service).start()
    try:
        jobs = {job.name: job.job.trigger for job in running.application.job_queue.jobs()}
        assert isinstance(jobs["purge"], CronTrigger) and isinstance(jobs["daily_summary"], CronTrigger)
        assert str(jobs["purge"]) == str(jobs["daily_summary"])  # both at SUMMARY_TIME
        assert isinstance(jobs["expire_crops"], IntervalTrigger)
        fake.wait_for(lambda: count_rows(running, PredictionRow) == 1, what="the start-up purge")
    finally:
        running.stop()


def test_rate_limit_answers_politely(bot, fake):
    for seed in range(11):
        fake.send_photo(70, encode(face_like(320, 240, seed=seed)))
    sent = fake.replies_to(70, 11, timeout=60)
    texts = [r.params["text"] for r in sent]
    assert sum("faster than I can" in t for t in texts) == 1
    assert count_rows(bot, PredictionRow) == 10


def test_image_files_without_an_image_type_count_as_photos(bot, fake):
    for seed in range(11):
        fake.send_document(71, encode(face_like(320, 240, seed=seed)), f"face{seed}.JPG", "application/octet-stream")
    texts = [r.params["text"] for r in fake.replies_to(71, 11, timeout=60)]
    assert sum("faster than I can" in t for t in texts) == 1
    assert count_rows(bot, PredictionRow) == 10


def test_a_burst_of_40_users_is_all_answered(bot, fake):
    photo = encode(face_like(640, 480))
    for user in range(1000, 1040):
        fake.send_photo(user, photo)
    fake.wait_for(
        lambda: len({r.params["chat_id"] for r in fake.calls("sendMessage")}) >= 40, timeout=90, what="40 answers"
    )
    assert all(len(fake.calls("sendMessage", user)) == 1 for user in range(1000, 1040))


def test_database_failure_still_gives_the_verdict(bot, fake, monkeypatch, known_photo):
    def broken(records, crops):
        raise OSError("disk I/O error")

    monkeypatch.setattr(bot.service.repository, "record_predictions", broken)
    fake.send_photo(80, encode(known_photo("without_mask")))
    reply = fake.replies_to(80)[0]
    assert verdict_of(reply) == "without_mask"
    assert "reply_markup" not in reply.params
    assert bot.metric("maskbot_errors_total", kind="database") == 1


def test_health_endpoint(bot):
    with urllib.request.urlopen(f"http://127.0.0.1:{bot.settings.port}/healthz", timeout=5) as response:
        body = json.loads(response.read())
    assert response.status == 200 and body["status"] == "ok" and body["model_version"]


def test_the_port_refuses_a_big_body_from_its_headers(bot):
    for method, path in (("POST", "/healthz"), ("GET", "/metrics"), ("POST", "/nowhere")):
        # 20 MB announced and none of it sent: the answer comes from the headers alone.
        with socket.create_connection(("127.0.0.1", bot.settings.port), timeout=5) as connection:
            head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {20 * 1024 * 1024}\r\n\r\n"
            connection.sendall(head.encode())
            assert connection.recv(100).startswith(b"HTTP/1.1 413 "), path
    assert bot.healthy()


def test_startup_catch_up_summarises_and_alerts_admins_on_drift_once(
    fake, tmp_path, predictor, shipped_model_dir, caplog
):
    caplog.set_level(logging.INFO, logger="bot.jobs")
    blocked_admin = ADMIN_ID + 1
    fake.blocked_chats.add(blocked_admin)
    settings = make_settings(fake, tmp_path, shipped_model_dir, admin_ids=frozenset({blocked_admin, ADMIN_ID}))
    service = make_service(settings, predictor)
    bare_faces_yesterday(service, predictor.version)
    running = RunningBot(fake, settings, service).start()
    try:
        alert = fake.replies_to(ADMIN_ID)[0]  # though the other admin blocked the bot
        assert "Drift <b>drift</b>" in alert.params["text"]
        # No 28 days of history yet: the reference is the model's training mix, and it says so.
        assert "differs from the mix the model was trained on" in alert.params["text"]
        assert fake.wait_for(lambda: fake.calls("sendPhoto", ADMIN_ID))
    finally:
        running.stop()
    # A second replica on the same database, started later, finds the day summarised and its
    # alert claimed: the admins are not told twice.
    second = RunningBot(fake, replace(settings, port=free_port()), make_service(settings, predictor)).start()
    try:
        fake.wait_for(lambda: len(fake.calls("setMyCommands")) >= 6, what="the second replica's start-up")
        # Its catch-up job runs a second after start-up and claims nothing.
        fake.wait_for(lambda: caplog.text.count("event=drift_claims") == 2, what="the second catch-up")
        assert len(fake.calls("sendMessage", ADMIN_ID)) == 1 and len(fake.calls("sendPhoto", ADMIN_ID)) == 1
    finally:
        second.stop()


WEBHOOK_SECRET = "a-webhook-secret-of-forty-characters-xyz"


def replies_to_replies(depth: int) -> dict:
    """A message replying to a message replying to ... `depth` deep."""
    message = {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}, "text": "hi"}
    for _ in range(depth):
        message = {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}, "reply_to_message": message}
    return message


def test_webhook_mode_checks_the_secret_before_reading_and_refuses_malformed_bodies(
    fake, tmp_path, predictor, shipped_model_dir
):
    settings = make_settings(
        fake,
        tmp_path,
        shipped_model_dir,
        webhook_url="https://bot.example/telegram/hook",
        webhook_secret=WEBHOOK_SECRET,
    )
    running = RunningBot(fake, settings, make_service(settings, predictor)).start()
    try:
        webhook = fake.wait_for(lambda: fake.calls("setWebhook"))[0]
        assert webhook.params["secret_token"] == WEBHOOK_SECRET
        assert webhook.params["url"] == "https://bot.example/telegram/hook"
        update = {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": fake.chat(90),
                "from": fake.user(90),
                "text": "/start",
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            },
        }

        def post(body: bytes, secret: str | None = WEBHOOK_SECRET, length: int | None = None) -> int:
            """The status of a POST; with `length`, only the headers are sent, announcing that many bytes."""
            connection = http.client.HTTPConnection("127.0.0.1", settings.port, timeout=5)
            headers = {"Content-Type": "application/json", "Content-Length": str(length or len(body))}
            if secret is not None:
                headers["X-Telegram-Bot-Api-Secret-Token"] = secret
            connection.putrequest("POST", "/telegram/hook")
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.endheaders()
            try:
                if length is None:
                    connection.send(body)
                return connection.getresponse().status
            except (ConnectionError, http.client.HTTPException):
                return 0  # the server hung up: refused
            finally:
                connection.close()

        # Answered from the headers alone: 100 MB announced, not one byte of it sent or read.
        assert post(b"", "wrong", length=100 * 1024 * 1024) == 403
        assert post(json.dumps(update).encode(), None) == 403
        assert post(json.dumps(update).encode(), WEBHOOK_SECRET[:-1] + "Z") == 403
        assert post(b"[1, 2]") == 400
        assert post(b'{"message": 5}') == 400
        assert post(b'{"update_id": 7, "message": 5}') == 400
        assert post(b"{not json") == 400
        # Nested past Python's recursion limit: in the JSON itself, or in what de_json walks.
        assert post(b'{"update_id": 8, "message": ' + b"[" * 100_000 + b"]" * 100_000 + b"}") == 400
        assert post(json.dumps({"update_id": 9, "message": replies_to_replies(600)}).encode()) == 400
        assert post(b"", length=2 * 1024 * 1024) == 413  # over the 1 MB cap, refused from the headers
        assert post(json.dumps(update).encode()) == 200
        assert "photo" in fake.replies_to(90)[0].params["text"]
        assert len(fake.calls("sendMessage", 90)) == 1
        assert not fake.calls("getUpdates")
        assert 'maskbot_errors_total{kind="malformed_update"} 6.0' in running.metrics_text()
    finally:
        running.stop()


def test_concurrent_updates_do_not_wait_for_a_slow_photo(bot, fake, monkeypatch):
    release = threading.Event()
    original = bot.service.model.predictor.predict_photo

    def slow(data):
        if len(data) > 50_000:
            release.wait(20)
        return original(data)

    monkeypatch.setattr(bot.service.model.predictor, "predict_photo", slow)
    fake.send_photo(95, encode(face_like(1600, 1200), quality=98))
    fake.wait_for(lambda: fake.calls("getFile"))
    fake.send_text(96, "/start")
    fake.replies_to(96, timeout=10)
    assert not fake.calls("sendMessage", 95)
    release.set()
    fake.replies_to(95)


def test_metrics_count_updates_and_verdicts_without_user_ids(bot, fake):
    user = 987654321
    fake.send_photo(user, encode(face_like(640, 480)))
    fake.replies_to(user)
    fake.send_text(user, "/help")
    fake.replies_to(user, 2)
    with urllib.request.urlopen(f"http://127.0.0.1:{bot.settings.port}/metrics", timeout=5) as response:
        text = response.read().decode()
    assert 'maskbot_updates_total{kind="photo"} 1.0' in text
    assert 'maskbot_updates_total{kind="command"} 1.0' in text
    assert "maskbot_verdicts_total{" in text and "maskbot_reply_seconds_count 1.0" in text
    assert f'maskbot_model_info{{version="{bot.service.model.version}"}} 1.0' in text
    assert str(user) not in text


def test_reload_switches_to_a_newly_promoted_champion(fake, tmp_path, predictor, shipped_model_dir):

    from model.registry import Registry

    registry = Registry(tmp_path / "models")
    registry.seed()  # every shipped model, the newest (the predictor's) the champion
    settings = make_settings(fake, tmp_path, registry.root)
    service = make_service(settings, predictor)
    service.model.source = registry.root
    running = RunningBot(fake, settings, service).start()
    try:
        fake.send_text(ADMIN_ID, "/reload")
        assert "already the champion" in fake.replies_to(ADMIN_ID)[0].params["text"]
        version = add_version(registry)
        registry.promote(version, "test")
        fake.send_text(60, "/reload")
        assert fake.replies_to(60)[0].params["text"] == replies.UNKNOWN_COMMAND
        fake.send_text(ADMIN_ID, "/reload")
        assert f"Now answering with model {version[1:]}" in fake.replies_to(ADMIN_ID, 2)[1].params["text"]
        assert service.model.predictor.runtime == "onnx"  # the exported file, not the Keras one
        fake.send_photo(61, encode(face_like(640, 480)))
        fake.replies_to(61)
        with service.repository.database.session() as session:
            assert session.scalars(select(PredictionRow.model_version)).all() == [version[1:]]
    finally:
        running.stop()


def bare_faces_yesterday(service, version: str, count: int = 80) -> None:
    """`count` users' bare faces at noon yesterday: a day the drift job alerts on."""
    yesterday = datetime.now(UTC).replace(hour=12) - timedelta(days=1)
    for i in range(count):
        service.repository.record_prediction(record(f"user{i}", "without_mask", at=yesterday, version=version))


def add_version(registry) -> str:
    """The registry's next version, a copy of its v2 that answers as that version's number."""
    import shutil

    name = registry.next_version()
    shutil.copytree(registry.root / "v2", registry.root / name)
    metadata = json.loads((registry.root / name / "metadata.json").read_text())
    (registry.root / name / "metadata.json").write_text(json.dumps({**metadata, "version": name.lstrip("v")}))
    return name


def model_errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR and "event=model_unusable" in r.msg]


def test_a_champion_that_cannot_load_gives_way_at_start_with_an_error_and_an_alert(fake, tmp_path, caplog):
    from bot.app import build_service

    caplog.set_level(logging.INFO)
    registry = shipped_registry(tmp_path / "models")
    version = add_version(registry)
    registry.promote(version, "passed the gate")
    cut_short(registry.root / version)  # damaged after its promotion: a restart exited 1
    settings = make_settings(fake, tmp_path, registry.root)
    service = build_service(settings)
    running = RunningBot(fake, settings, service).start()
    try:
        assert service.model.version == "2"
        alert = fake.replies_to(ADMIN_ID)[0].params["text"]
        assert "so I'm answering with model 2" in alert and f"{version} does not load (InvalidProtobuf" in alert
        assert "model=2" in model_errors(caplog)[0] and f"{version} does not load" in model_errors(caplog)[0]
        fake.send_photo(61, encode(face_like(640, 480)))
        fake.replies_to(61)
        # The catch-up job checks the registry again a second after start-up: the same trouble,
        # logged again, but admins are not told twice.
        fake.wait_for(lambda: "event=daily_summary" in caplog.text, what="the catch-up job")
        assert len(model_errors(caplog)) == 2 and len(fake.calls("sendMessage", ADMIN_ID)) == 1
    finally:
        running.stop()
    with service.repository.database.session() as session:
        assert session.scalars(select(PredictionRow.model_version)).all() == ["2"]


def test_reload_to_a_champion_that_cannot_load_keeps_answering_and_tells_the_admins(fake, tmp_path, caplog):
    from bot.app import build_service

    caplog.set_level(logging.INFO)
    other_admin = ADMIN_ID + 2
    registry = shipped_registry(tmp_path / "models")
    settings = make_settings(fake, tmp_path, registry.root, admin_ids=frozenset({ADMIN_ID, other_admin}))
    service = build_service(settings)
    running = RunningBot(fake, settings, service).start()
    try:
        fake.wait_for(lambda: "event=daily_summary" in caplog.text, what="the catch-up job")
        version = add_version(registry)
        registry.promote(version, "passed the gate")
        cut_short(registry.root / version)
        fake.send_text(ADMIN_ID, "/reload")
        reply = fake.replies_to(ADMIN_ID)[0].params["text"]
        assert "so I'm answering with model 2" in reply and f"{version} does not load" in reply
        assert fake.replies_to(other_admin)[0].params["text"] == reply
        assert service.model.version == "2" and len(model_errors(caplog)) == 1
        fake.send_text(ADMIN_ID, "/reload")  # the same trouble: told to whoever asks, not alerted again
        assert fake.replies_to(ADMIN_ID, 2)[1].params["text"] == reply
        running.wait_idle()
        assert len(fake.calls("sendMessage", other_admin)) == 1
    finally:
        running.stop()


def test_the_daily_summary_and_drift_alert_do_not_wait_on_a_model_that_cannot_load(fake, tmp_path, predictor, caplog):
    caplog.set_level(logging.INFO)
    registry = shipped_registry(tmp_path / "models")
    for version in ("v1", "v2"):
        cut_short(registry.root / version)
    settings = make_settings(fake, tmp_path, registry.root)
    service = make_service(settings, predictor)
    service.model.source = registry.root
    bare_faces_yesterday(service, predictor.version)
    running = RunningBot(fake, settings, service).start()
    try:
        texts = [request.params["text"] for request in fake.replies_to(ADMIN_ID, 2)]
        # The model answering already (the predictor's) keeps answering.
        assert f"so I'm answering with model {predictor.version}" in texts[0] and "v1 does not load" in texts[0]
        assert "Drift <b>drift</b>" in texts[1]
        assert fake.wait_for(lambda: fake.calls("sendPhoto", ADMIN_ID))
        assert "event=daily_summary days=1" in caplog.text and service.model.version == predictor.version
    finally:
        running.stop()


def test_an_album_gets_one_answer_per_photo(bot, fake, known_photo):
    album = ["with_mask", "without_mask", "with_mask"]
    for label in album:
        photo = known_photo(label)
        file_id, size = fake.add_file(encode(photo))
        fake.message(
            98,
            media_group_id="album-1",
            photo=[
                {
                    "file_id": file_id,
                    "file_unique_id": file_id,
                    "width": photo.width,
                    "height": photo.height,
                    "file_size": size,
                }
            ],
        )
    answers = fake.replies_to(98, 3)
    assert sorted(verdict_of(answer) for answer in answers) == sorted(album)
    bot.wait_idle()
    assert len(fake.calls("sendMessage", 98)) == 3


def why_of(reply) -> str:
    """The callback data of a verdict's Why? button."""
    [button] = [b for b in reply.params["reply_markup"]["inline_keyboard"][0] if b["text"] == "🔍 Why?"]
    return button["callback_data"]


def alerts(fake) -> list[str]:
    return [a.params.get("text") for a in fake.calls("answerCallbackQuery")]


def test_why_judges_the_photo_again_and_stores_nothing(bot, fake, known_photo, predictor):
    data = encode(known_photo("without_mask"))
    fake.send_photo(70, data)
    reply = fake.replies_to(70)[0]
    why = why_of(reply)
    assert why.endswith("|why") and "70" not in why
    stored = (count_rows(bot, PredictionRow), count_rows(bot, Crop), count_rows(bot, Feedback))
    fake.press(70, reply, why)
    picture = fake.wait_for(lambda: fake.calls("sendPhoto", 70))[0]
    # The photo was downloaded again, and its face explained as it was when answered.
    assert [r.params["file_id"] for r in fake.calls("download")] == ["file1", "file1"]
    [face] = predictor.predict_photo(data).faces
    assert face.class_maps is not None
    assert picture.params["photo"] == explain(face.pixels, face.class_maps, face.label, face.crop_landmarks).picture
    sentences = {*replies.WHY_SENTENCE["without_mask"].values(), *replies.WHY_ELSEWHERE.values()}
    assert picture.params["caption"] in sentences
    with Image.open(io.BytesIO(picture.params["photo"])) as image:
        assert image.format == "JPEG" and image.size == (384, 384)
    rating = fake.wait_for(lambda: fake.calls("editMessageReplyMarkup", 70))[0].params["reply_markup"]
    assert [b["text"] for b in rating["inline_keyboard"][0]] == ["👍 Right", "👎 Wrong"]  # the button goes
    bot.wait_idle()
    assert (count_rows(bot, PredictionRow), count_rows(bot, Crop), count_rows(bot, Feedback)) == stored
    fake.press(70, reply, reply.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"])  # Right still works
    assert fake.wait_for(lambda: len(fake.calls("editMessageReplyMarkup", 70)) >= 2)


def test_why_answers_whenever_the_photo_is_there_with_the_model_that_answers_now(bot, fake, known_photo):
    """Nothing expires: not after "No, don't" share, not after a busy while; only a deleted photo
    cannot be explained, and a map drawn by a newer model than the answer's says so."""
    fake.send_photo(71, encode(known_photo("with_mask")))
    first = fake.replies_to(71)[0]
    fake.press(71, first, first.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"])  # Right
    consent = fake.wait_for(lambda: fake.calls("editMessageReplyMarkup", 71))[0].params["reply_markup"]
    fake.press(71, first, consent["inline_keyboard"][0][1]["callback_data"])  # No, don't
    fake.wait_for(lambda: fake.calls("editMessageText", 71))
    for seed in range(3):  # other people's photos in between
        fake.send_photo(72 + seed, encode(face_like(640, 480, seed=seed)))
        fake.replies_to(72 + seed)
    fake.press(71, first, why_of(first))
    picture = fake.wait_for(lambda: fake.calls("sendPhoto", 71))[0]
    assert picture.params["caption"] in {*replies.WHY_SENTENCE["with_mask"].values(), *replies.WHY_ELSEWHERE.values()}

    fake.send_photo(71, encode(known_photo("with_mask")))
    second = fake.replies_to(71, 2)[1]
    with bot.service.repository.database.session() as session:
        session.execute(sql_update(PredictionRow).values(model_version="v0"))  # answered by an older model
    fake.press(71, second, why_of(second))
    newer = fake.wait_for(lambda: len(fake.calls("sendPhoto", 71)) >= 2 and fake.calls("sendPhoto", 71))[1]
    assert newer.params["caption"].endswith("<i>" + replies.WHY_NEWER_MODEL + "</i>")

    fake.send_photo(71, encode(known_photo("with_mask")))
    third = fake.replies_to(71, 3)[2]
    fake.delete(71, third.params["reply_parameters"]["message_id"])  # the user deleted the photo
    fake.press(71, third, why_of(third))
    fake.wait_for(lambda: replies.WHY_UNAVAILABLE in alerts(fake), what="the unavailable answer")
    bot.wait_idle()
    assert len(fake.calls("sendPhoto", 71)) == 2


def test_button_presses_have_a_budget_of_their_own_answered_once(bot, fake, known_photo):
    from bot.ratelimit import BUTTON_PRESSES_PER_MINUTE, UPDATES_PER_MINUTE

    fake.send_photo(73, encode(known_photo("with_mask")))
    reply = fake.replies_to(73)[0]
    for i in range(UPDATES_PER_MINUTE):  # a minute's worth of texts leaves the buttons alone
        fake.send_text(73, f"hello {i}")
    fake.replies_to(73, 1 + UPDATES_PER_MINUTE)
    presses = BUTTON_PRESSES_PER_MINUTE + 20
    for _ in range(presses):
        fake.press(73, reply, "fb|0|ok")  # malformed: answered quietly, with no work
    notice = replies.RATE_LIMITED_BUTTONS.split("{")[0]
    fake.wait_for(lambda: any(text and text.startswith(notice) for text in alerts(fake)), what="the notice")
    limited = f'maskbot_errors_total{{kind="rate_limited"}} {presses - BUTTON_PRESSES_PER_MINUTE}.0'
    fake.wait_for(lambda: limited in bot.metrics_text(), what="every refusal counted")
    bot.wait_idle()
    # Each admitted press is answered, and of the refused ones only the first: a flood of presses
    # costs no Bot API call each.
    assert len(fake.calls("answerCallbackQuery")) == BUTTON_PRESSES_PER_MINUTE + 1


def test_the_daily_job_sends_one_line_per_camera_once_and_stats_show_cameras_beside_chats(
    fake, tmp_path, predictor, caplog, shipped_model_dir
):
    caplog.set_level(logging.INFO)
    settings = make_settings(fake, tmp_path, shipped_model_dir)
    yesterday = datetime.now(UTC).replace(hour=9, minute=30) - timedelta(days=1)
    first = make_service(settings, predictor)
    cameras.add_counts(first.repository.database, "door", {yesterday: {"with_mask": 9, "without_mask": 1}})
    cameras.add_counts(first.repository.database, "hall", {yesterday: {"mask_weared_incorrect": 2}})
    running = RunningBot(fake, settings, first).start()
    try:
        line = fake.wait_for(
            lambda: [r for r in fake.calls("sendMessage", ADMIN_ID) if "Cameras on" in r.params["text"]]
        )
        assert line[0].params["text"].splitlines()[1:] == [
            "📷 door: 10 people: 90% mask on, 10% no mask, 0% worn incorrectly",
            "📷 hall: 2 people: 0% mask on, 0% no mask, 100% worn incorrectly",
        ]
        fake.send_text(ADMIN_ID, "/stats 3")
        table = fake.wait_for(lambda: [r for r in fake.calls("sendMessage", ADMIN_ID) if "Stats" in r.params["text"]])
        assert "📷 door: 10 people" in table[0].params["text"] and "Photos checked: 0" in table[0].params["text"]
    finally:
        running.stop()
    # A second replica's daily job, on the same database: the day's line was claimed already.
    replica = RunningBot(fake, settings, make_service(settings, predictor)).start()
    try:
        fake.wait_for(lambda: caplog.text.count("event=camera_day") == 2, what="the replica's catch-up job")
    finally:
        replica.stop()
    assert "event=camera_day cameras=2 claimed=False" in caplog.text
    assert len([r for r in fake.calls("sendMessage", ADMIN_ID) if "Cameras on" in r.params["text"]]) == 1
