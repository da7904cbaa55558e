"""Two real `maskbot run` processes in webhook mode on one PostgreSQL database, as compose.yaml
runs them behind a proxy: whichever replica an update reaches, the user sees one bot."""

from __future__ import annotations

import itertools
import json
import subprocess
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, select, text

from storage.database import Database
from storage.repository import Repository
from storage.tables import Crop, PredictionRow
from tests.support.bot_harness import ADMIN_ID, free_port
from tests.support.fake_telegram import FakeTelegram
from tests.support.photos import encode, face_like
from tests.support.processes import MASKBOT, bot_env
from tests.support.storage_fixtures import _postgres_database, record

WEBHOOK_SECRET = "replicas-share-this-webhook-secret-0123456789"
USER = 70


@pytest.fixture
def postgres_url():
    yield from _postgres_database()


def yesterdays_drift(database_url: str, version: str) -> None:
    """80 bare faces yesterday against a training mix of mostly masks: a drift day to alert about."""
    database = Database(database_url)
    repository = Repository(database)
    yesterday = datetime.now(UTC).replace(hour=12) - timedelta(days=1)
    for i in range(80):
        repository.record_prediction(record(f"earlier{i}", "without_mask", at=yesterday, version=version))
    database.dispose()


@pytest.mark.postgres
def test_two_replicas_share_crops_consent_forget_and_the_drift_alert(tmp_path, postgres_url, shipped_model_dir):
    version = json.loads((shipped_model_dir / "metadata.json").read_text())["version"]
    Database(postgres_url).dispose()  # migrated once, before both start
    yesterdays_drift(postgres_url, version)
    fake = FakeTelegram().start()
    ports = [free_port(), free_port()]
    processes = []
    try:
        for index, port in enumerate(ports):
            env = bot_env(
                tmp_path / f"replica{index}",
                fake,
                shipped_model_dir,
                DATABASE_URL=postgres_url,
                ADMIN_IDS=str(ADMIN_ID),
                PORT=str(port),
                WEBHOOK_URL="https://bot.example/hook",
                WEBHOOK_SECRET=WEBHOOK_SECRET,
            )
            log = (tmp_path / f"replica{index}.log").open("w")
            processes.append(subprocess.Popen([*MASKBOT, "run"], env=env, stdout=log, stderr=subprocess.STDOUT))

        def healthy(port: int) -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    return response.status == 200
            except OSError:
                assert all(p.poll() is None for p in processes), "a replica exited"
                return False

        for port in ports:
            fake.wait_for(lambda port=port: healthy(port), timeout=120, what=f"the replica on {port} to start")
        update_ids = itertools.count(1)

        def post(port: int, **update) -> None:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/hook",
                json.dumps({"update_id": next(update_ids), **update}).encode(),
                method="POST",
                headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET},
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200

        def message(**content) -> dict:
            return fake.keep(
                {
                    "message_id": next(update_ids) + 500,
                    "date": int(datetime.now().timestamp()),
                    "chat": fake.chat(USER),
                    "from": fake.user(USER),
                    **content,
                }
            )

        def press(port: int, reply, data: str) -> None:
            post(
                port,
                callback_query={
                    "id": f"cb{next(update_ids)}",
                    "from": fake.user(USER),
                    "chat_instance": "ci",
                    "data": data,
                    "message": fake.sent_message(reply),
                },
            )

        # The photo reaches replica A; every button press after it reaches replica B.
        file_id, size = fake.add_file(encode(face_like(640, 480)))
        post(
            ports[0],
            message=message(
                photo=[{"file_id": file_id, "file_unique_id": "u", "width": 640, "height": 480, "file_size": size}]
            ),
        )
        verdict = fake.replies_to(USER, timeout=60)[0]
        press(ports[1], verdict, verdict.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"])  # Right
        consent = fake.wait_for(lambda: fake.calls("editMessageReplyMarkup"))[0].params["reply_markup"]
        press(ports[1], verdict, consent["inline_keyboard"][0][0]["callback_data"])  # yes, share
        thanks = fake.wait_for(lambda: fake.calls("editMessageText"))[0]
        assert "Thanks for your feedback" in thanks.params["text"]
        # "Why?" on B, which never saw the photo: it downloads the photo again and explains it.
        [why] = [b for b in verdict.params["reply_markup"]["inline_keyboard"][0] if b["callback_data"].endswith("|why")]
        press(ports[1], verdict, why["callback_data"])
        picture = fake.wait_for(lambda: fake.calls("sendPhoto", USER), timeout=60, what="the Why? picture")[0]
        assert picture.params["caption"].startswith("I looked mostly")
        assert [r.params["file_id"] for r in fake.calls("download")] == [file_id, file_id]
        engine = create_engine(postgres_url)
        with engine.connect() as connection:
            assert connection.execute(
                select(Crop.shared).where(
                    Crop.prediction_id.in_(
                        select(PredictionRow.id).where(
                            PredictionRow.created_at > datetime.now(UTC) - timedelta(hours=1)
                        )
                    )
                )
            ).scalars().all() == [True]

        # /forget asked on B, confirmed on A: the shared crop goes with the rows, on every replica.
        post(ports[1], message=message(text="/forget", entities=[{"type": "bot_command", "offset": 0, "length": 7}]))
        prompt = fake.replies_to(USER, 2)[1]
        press(ports[0], prompt, prompt.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
        done = fake.wait_for(lambda: len(fake.calls("editMessageText")) >= 3 and fake.calls("editMessageText"))[2]
        assert "deleted 1 answer, 1 feedback note and 1 shared photo crop" in done.params["text"]
        with engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(Crop)).scalar() == 0
            assert connection.execute(text("SELECT count(*) FROM predictions")).scalar() == 80
        engine.dispose()

        # Both replicas ran the start-up catch-up on the same drift day: the admin heard once.
        def claims() -> list[str] | None:
            found = [
                line.rsplit("=", 1)[1]
                for i in range(2)
                for line in (tmp_path / f"replica{i}.log").read_text().splitlines()
                if "event=drift_claims" in line
            ]
            return sorted(found) if len(found) == 2 else None

        assert fake.wait_for(claims, timeout=60, what="both replicas' start-up catch-up") == ["0", "1"]
        fake.wait_for(lambda: fake.calls("sendPhoto", ADMIN_ID), timeout=30, what="the alert's chart")
        alerts = [r for r in fake.calls("sendMessage", ADMIN_ID) if "Drift" in r.params.get("text", "")]
        assert len(alerts) == 1 and len(fake.calls("sendPhoto", ADMIN_ID)) == 1
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(60)
        fake.stop()
