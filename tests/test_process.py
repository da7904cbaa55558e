"""The `maskbot` command as a real process: configuration errors, SIGTERM, the storage commands."""

from __future__ import annotations

import signal
import subprocess
import urllib.request
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text

from model.registry import Registry
from tests.support.bot_harness import free_port
from tests.support.fake_telegram import TOKEN, FakeTelegram
from tests.support.models import cut_short
from tests.support.photos import encode, face_like
from tests.support.processes import MASKBOT, bot_env, maskbot_env

WEBHOOK_SECRET = "a-webhook-secret-of-forty-characters-xyz"


@pytest.mark.parametrize(
    "variables, message",
    [
        ({}, "BOT_TOKEN is not set"),
        ({"BOT_TOKEN": "nonsense"}, "BOT_TOKEN does not look like"),
        ({"BOT_TOKEN": TOKEN, "ADMIN_IDS": "12,abc"}, "ADMIN_IDS"),
        ({"BOT_TOKEN": TOKEN, "SUMMARY_TIME": "7pm"}, "SUMMARY_TIME"),
        ({"BOT_TOKEN": TOKEN, "RETENTION_DAYS": "-3"}, "RETENTION_DAYS"),
        ({"BOT_TOKEN": TOKEN, "WEBHOOK_URL": "http://insecure.example/hook", "PORT": "8080"}, "WEBHOOK_URL"),
        ({"BOT_TOKEN": TOKEN, "WEBHOOK_URL": "https://bot.example/hook", "PORT": "8080"}, "WEBHOOK_SECRET must be set"),
        (
            {"BOT_TOKEN": TOKEN, "WEBHOOK_URL": "https://bot.example/hook", "PORT": "8080", "WEBHOOK_SECRET": "short"},
            "at least 32 characters",
        ),
        ({"BOT_TOKEN": TOKEN, "WEBHOOK_URL": "https://bot.example/hook", "WEBHOOK_SECRET": WEBHOOK_SECRET}, "PORT"),
        (
            {"BOT_TOKEN": TOKEN, "WEBHOOK_URL": "https://bot.example/hook", "PORT": "8080", "WEBHOOK_SECRET": "s" * 40},
            "WEBHOOK_SECRET is too repetitive",
        ),
        ({"BOT_TOKEN": TOKEN, "MASKBOT_SECRET": "guessable"}, "MASKBOT_SECRET must be at least 32 characters"),
        ({"BOT_TOKEN": TOKEN, "MASKBOT_SECRET": "a" * 32}, "MASKBOT_SECRET is too repetitive"),
        ({"BOT_TOKEN": TOKEN, "MASKBOT_SECRET": "abcd" * 10}, "MASKBOT_SECRET is too repetitive"),
    ],
)
def test_bad_configuration_stops_with_one_line_naming_it(tmp_path, variables, message):
    # A Bot API that answers nothing: a configuration let through fails fast, with another line.
    env = maskbot_env(tmp_path, TELEGRAM_API_BASE_URL=f"http://127.0.0.1:{free_port()}/bot", **variables)
    result = subprocess.run([*MASKBOT, "run"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("maskbot:")]
    assert len(lines) == 1 and message in lines[0]


def test_the_default_database_lives_in_data_dir():
    from bot.config import load_settings

    assert (
        load_settings({"BOT_TOKEN": TOKEN, "DATA_DIR": "/srv/maskbot"}).database_url
        == "sqlite:////srv/maskbot/maskbot.db"
    )
    assert load_settings({"BOT_TOKEN": TOKEN}).database_url == "sqlite:///data/maskbot.db"


def test_sigterm_finishes_the_reply_in_flight_and_exits_zero(tmp_path, shipped_model_dir):
    fake = FakeTelegram().start()
    port = free_port()
    env = bot_env(tmp_path, fake, shipped_model_dir, PORT=str(port))
    process = subprocess.Popen([*MASKBOT, "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    return response.status == 200
            except OSError:
                return process.poll() is not None and pytest.fail(process.stdout.read())

        fake.wait_for(healthy, timeout=60, what="the bot to become healthy")
        fake.delays["getFile"] = 1.5  # the photo is mid-download when SIGTERM arrives
        fake.send_photo(7, encode(face_like(640, 480)))
        fake.wait_for(lambda: fake.calls("getFile"), what="the download to start")
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
        replies = fake.calls("sendMessage", 7)
        assert len(replies) == 1 and "%" in replies[0].params["text"].splitlines()[0]
        engine = create_engine(env["DATABASE_URL"])
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM predictions")).scalar() == 1
        engine.dispose()
        log = process.stdout.read()
        assert "event=verdict" in log and "event=shutdown_complete" in log
        assert TOKEN not in log and "user_id" not in log
    finally:
        if process.poll() is None:
            process.kill()
        fake.stop()


def test_debug_logs_carry_no_token_ids_names_or_file_ids(tmp_path, shipped_model_dir):
    fake = FakeTelegram().start()
    port = free_port()
    env = bot_env(tmp_path, fake, shipped_model_dir, LOG_LEVEL="DEBUG", PORT=str(port))
    process = subprocess.Popen([*MASKBOT, "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    user = 987654321
    try:
        fake.wait_for(lambda: fake.calls("setMyCommands"), timeout=60, what="the bot to start")
        fake.send_photo(user, encode(face_like(640, 480)))
        fake.send_text(user, "hello there")
        fake.replies_to(user, 2)
        file_id = fake.calls("getFile")[0].params["file_id"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
        log = process.stdout.read()
        assert "DEBUG" in log and "event=verdict" in log  # it did log at DEBUG
        for private in (TOKEN, TOKEN.split(":")[1], str(user), f"User{user}", file_id, "hello there"):
            assert private not in log, private
    finally:
        if process.poll() is None:
            process.kill()
        fake.stop()


def test_a_failed_download_logs_its_traceback_without_the_token(tmp_path, shipped_model_dir):
    fake = FakeTelegram().start()
    env = maskbot_env(
        tmp_path,
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=fake.base_url,
        # Downloads go where the fake serves nothing: each answers 404, at a URL holding the token.
        TELEGRAM_FILE_BASE_URL=fake.base_file_url.replace("/file/", "/gone/"),
        MODEL_DIR=str(shipped_model_dir),
        PORT=str(free_port()),
    )
    process = subprocess.Popen([*MASKBOT, "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        fake.wait_for(lambda: fake.calls("setMyCommands"), timeout=60, what="the bot to start")
        fake.send_photo(7, encode(face_like(640, 480)))
        fake.replies_to(7)  # "something went wrong"
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
        log = process.stdout.read()
        assert "Traceback (most recent call last)" in log and "404 Not Found" in log and "/gone/bot<token>/" in log
        assert TOKEN not in log and TOKEN.split(":")[1] not in log
    finally:
        if process.poll() is None:
            process.kill()
        fake.stop()


def test_storage_commands_round_trip(tmp_path, shipped_model_dir):
    env = maskbot_env(tmp_path, MODEL_DIR=str(shipped_model_dir))

    def maskbot(*args: str) -> str:
        result = subprocess.run([*MASKBOT, *args], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert "revision 0009" in maskbot("db", "upgrade")
    from storage.database import Database
    from storage.pseudonyms import Pseudonymizer
    from storage.repository import Repository
    from tests.support.storage_fixtures import record

    database = Database(env["DATABASE_URL"])
    repository = Repository(database)
    pseudonym = Pseudonymizer(env["MASKBOT_SECRET"].encode())(4242)
    from datetime import datetime, timedelta

    now = datetime.now(UTC)
    repository.record_prediction(record(pseudonym, at=now - timedelta(days=2)))
    repository.record_prediction(record("someone-else", "without_mask", at=now - timedelta(days=200)))
    database.dispose()
    assert "summarised 2 day(s)" in maskbot("summarise", "--catch-up")
    assert "photos 1, faces judged 1" in maskbot("stats", "--days", "7")
    assert "deleted 1 predictions" in maskbot("purge")
    assert "deleted 1 predictions" in maskbot("forget", "4242")
    assert '"count": 0' in maskbot("stats", "--json")


def test_a_refused_token_or_an_unreachable_api_stops_with_one_clear_line(tmp_path, shipped_model_dir):
    def run(token: str, api: str) -> subprocess.CompletedProcess:
        env = maskbot_env(tmp_path, BOT_TOKEN=token, TELEGRAM_API_BASE_URL=api, MODEL_DIR=str(shipped_model_dir))
        return subprocess.run([*MASKBOT, "run"], capture_output=True, text=True, timeout=120, env=env)

    fake = FakeTelegram().start()
    try:
        refused = run("999:AAAnotTheTokenTheServerKnows_xyz", fake.base_url)
    finally:
        fake.stop()
    assert refused.returncode == 2 and "BOT_TOKEN was refused" in refused.stderr
    unreachable = run(TOKEN, f"http://127.0.0.1:{free_port()}/bot")
    assert unreachable.returncode == 1 and "cannot reach the Bot API" in unreachable.stderr
    assert "Traceback" not in refused.stderr + unreachable.stderr


def test_operator_commands_review_export_and_manage_models(tmp_path, shipped_model_dir):
    from PIL import Image

    from storage.database import Database
    from storage.repository import Repository
    from tests.support.storage_fixtures import record

    env = maskbot_env(tmp_path)

    def maskbot(*args: str) -> str:
        result = subprocess.run([*MASKBOT, *args], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    database = Database(env["DATABASE_URL"])
    repository = Repository(database)
    for i in range(3):
        prediction_id = repository.record_prediction(
            record(f"u{i}", at=datetime.now(UTC), version="v2" if i else "v1"),
            crop_png=encode(Image.new("RGB", (128, 128)), "PNG"),
        )
        repository.record_feedback(prediction_id, f"u{i}", False, "without_mask", share_crop=True)
    database.dispose()
    listing = maskbot("feedback", "review")
    assert "3 pending feedback item(s)" in listing and "without_mask" in listing
    assert "1 pending feedback item(s)" in maskbot("feedback", "review", "--model", "v1")
    assert "0 pending feedback item(s)" in maskbot("feedback", "review", "--label", "with_mask")
    assert "updated 2 feedback item(s)" in maskbot("feedback", "review", "--accept", "1", "2")
    assert "1 rejected" in maskbot("feedback", "review", "--reject", "3", "--status", "rejected")
    assert "wrote 2 accepted crop(s)" in maskbot("feedback", "export", str(tmp_path / "export"))
    assert sorted(p.name for p in (tmp_path / "export" / "without_mask").iterdir()) == ["1.png", "2.png"]

    models = maskbot("models", "list")  # seeds DATA_DIR/models with the shipped models, v4 the champion
    assert "v1" in models and "v2" in models and "v3" in models and "v4" in models and "champion" in models
    import shutil

    shutil.copytree(tmp_path / "models" / "v2", tmp_path / "models" / "v5")
    assert "champion is now v5" in maskbot("models", "promote", "v5", "--reason", "test")
    assert "champion is now v4" in maskbot("models", "rollback")
    history = (tmp_path / "models" / "history.jsonl").read_text()
    assert '"forced": true' in history and "promoted by hand: test" in history


def test_models_promote_and_rollback_refuse_a_model_that_cannot_load(tmp_path):
    import shutil

    registry = Registry(tmp_path / "models")
    registry.seed()  # every shipped model, v4 the champion
    history = registry.history()
    shutil.copytree(registry.root / "v2", registry.root / "v5")
    cut_short(registry.root / "v5")
    cut_short(registry.root / "v3")
    env = maskbot_env(tmp_path)
    for command, version in ((("promote", "v5", "--reason", "looks better"), "v5"), (("rollback",), "v3")):
        result = subprocess.run([*MASKBOT, "models", *command], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 1, result.stdout
        assert result.stderr.startswith(f"maskbot: {version} does not load (InvalidProtobuf: ")
        assert "Traceback" not in result.stderr
    assert registry.champion() == "v4" and registry.history() == history


@pytest.mark.parametrize("days", ["0", "366", "-3", "seven"])
def test_stats_days_are_bounded_as_the_admins_stats_are(days, capsys):
    from cli import build_parser

    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["stats", "--days", days])
    assert stopped.value.code == 2 and "--days" in capsys.readouterr().err
    assert build_parser().parse_args(["stats", "--days", "365"]).days == 365
