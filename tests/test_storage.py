"""The storage layer on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import multiprocessing
import os
import stat
import threading
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import event, func, insert, inspect, select
from sqlalchemy.orm import Session

from model import CLASS_NAMES
from storage import cameras, stats, summaries
from storage.database import Database, current_revision
from storage.pseudonyms import Pseudonymizer, load_secret
from storage.repository import (
    CROP_HOLD,
    Deleted,
    FeedbackFilter,
    FeedbackOutcome,
    Repository,
    _row_values,
)
from storage.tables import STORED_CLASSES, Crop, DailySummary, Feedback, PredictionRow, UserSettings
from tests.support.storage_fixtures import _postgres_database, record

DAY = date(2026, 11, 20)


def count(database: Database, table) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(table))


def test_the_schema_has_columns_for_every_class_the_model_answers():
    # storage may not import model, so its tables name the classes in their columns: a class the
    # model gains needs a migration before a prediction of it can be stored or summarised.
    assert STORED_CLASSES == CLASS_NAMES
    summary_columns = set(DailySummary.__table__.columns.keys())
    for name in CLASS_NAMES:
        assert {f"count_{name}", f"share_{name}", f"reference_share_{name}"} <= summary_columns, name


def test_migrations_create_every_table_from_an_empty_database(database):
    assert current_revision(database.engine) is not None
    tables = set(inspect(database.engine).get_table_names())
    assert {"predictions", "feedback", "crops", "daily_summaries", "user_settings", "alembic_version"} <= tables
    assert {"camera_counts", "cameras", "alert_claims"} <= tables
    Database(database.url).dispose()  # a second start migrates nothing and fails nothing
    assert current_revision(database.engine) == "0009"


def test_each_migration_file_is_named_after_its_revision_and_a_current_database_skips_alembic(database):
    import re
    import subprocess
    import sys

    from storage.database import MIGRATIONS, newest_revision

    for path in (MIGRATIONS / "versions").glob("*.py"):
        assert re.search(r'^revision = "([0-9]{4})"$', path.read_text(), re.M)[1] == path.name[:4]
    assert newest_revision() == current_revision(database.engine)
    script = "import sys; from storage.database import Database; Database(sys.argv[1]); print('alembic' in sys.modules)"
    started = subprocess.run([sys.executable, "-c", script, database.url], capture_output=True, text=True, timeout=60)
    assert started.stdout.split() == ["False"], started.stderr


def test_the_orm_models_match_the_migrations(database):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from storage.tables import Base

    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_without_a_postgresql_server_ci_fails_where_a_laptop_skips(monkeypatch):
    from tests.support import storage_fixtures

    monkeypatch.setattr(storage_fixtures, "POSTGRES_URL", "postgresql+psycopg://nobody:x@127.0.0.1:9/postgres")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        next(storage_fixtures._postgres_database())
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run these tests"):
        next(storage_fixtures._postgres_database())


AT = datetime(2026, 11, 20, 12, tzinfo=UTC)
"""When `record` makes its predictions; a user answers minutes later."""
SOON = AT + timedelta(minutes=5)


def crops(database: Database) -> dict[int, tuple[bytes, bool]]:
    with database.session() as session:
        return {c.prediction_id: (c.png, c.shared) for c in session.scalars(select(Crop))}


def test_every_model_round_trips(repository, database):
    prediction_id = repository.record_prediction(record(), crop_png=b"\x89PNG fake")
    assert crops(database) == {prediction_id: (b"\x89PNG fake", False)}  # waiting for consent
    assert (
        repository.record_feedback(prediction_id, "u1", False, "without_mask", share_crop=True, now=SOON)
        is FeedbackOutcome.STORED
    )
    summaries.summarise(database, DAY, reference={"with_mask": 0.3, "without_mask": 0.3, "mask_weared_incorrect": 0.4})
    with database.session() as session:
        stored = session.get(PredictionRow, prediction_id)
        assert (stored.label, stored.p_without_mask, stored.face_fraction, stored.image_width) == (
            "with_mask",
            0.05,
            0.2,
            1280,
        )
        assert stored.created_at.replace(tzinfo=UTC) == AT
        feedback = session.scalars(select(Feedback)).one()
        assert (feedback.is_correct, feedback.corrected_label) == (False, "without_mask")
        summary = session.scalars(select(DailySummary)).one()
        assert (summary.count, summary.count_with_mask, summary.feedback_count, summary.disagreement_rate) == (
            1,
            1,
            1,
            1.0,
        )
    assert crops(database) == {prediction_id: (b"\x89PNG fake", True)}
    assert [item.crop for item in repository.feedback_items(FeedbackFilter(with_crop=True))] == [b"\x89PNG fake"]


def test_feedback_only_from_the_user_who_asked_and_only_once(repository, database):
    prediction_id = repository.record_prediction(record("alice"), crop_png=b"crop")
    assert repository.record_feedback(prediction_id, "mallory", False, "without_mask") is FeedbackOutcome.NOT_YOURS
    assert repository.record_feedback(prediction_id + 1000, "alice", True) is FeedbackOutcome.NOT_YOURS
    assert (
        repository.record_feedback(prediction_id, "alice", False, "without_mask", share_crop=True, now=SOON)
        is FeedbackOutcome.STORED
    )
    [item] = repository.feedback_items()
    repository.review([item.feedback_id], "accepted")
    # A replayed or crafted button cannot relabel an answer an operator may already have accepted.
    assert (
        repository.record_feedback(prediction_id, "alice", False, "mask_weared_incorrect", share_crop=True, now=SOON)
        is FeedbackOutcome.ALREADY_ANSWERED
    )
    assert (
        repository.record_feedback(prediction_id, "alice", True, share_crop=True, now=SOON)
        is FeedbackOutcome.ALREADY_ANSWERED
    )
    [item] = repository.feedback_items()
    assert (item.corrected_label, item.review_status, item.crop) == ("without_mask", "accepted", b"crop")
    # Withdrawing consent is always possible: the crop goes, the answer stays.
    assert (
        repository.record_feedback(prediction_id, "alice", False, "without_mask", now=SOON)
        is FeedbackOutcome.CONSENT_WITHDRAWN
    )
    assert crops(database) == {}
    [item] = repository.feedback_items()
    assert item.crop is None and item.corrected_label == "without_mask"
    assert (
        repository.record_feedback(prediction_id, "alice", False, "without_mask", now=SOON)
        is FeedbackOutcome.ALREADY_ANSWERED
    )


def test_feedback_is_filtered_by_the_users_label_and_the_model_and_counted(repository):
    said = [
        ("alice", "with_mask", "1", False, "mask_weared_incorrect"),
        ("bob", "with_mask", "2", True, None),
        ("carol", "without_mask", "2", False, "with_mask"),
        ("dave", "without_mask", "10", False, "mask_weared_incorrect"),
    ]
    ids = {}
    for user, label, version, right, corrected in said:
        prediction_id = repository.record_prediction(record(user, label, version=version), crop_png=user.encode())
        repository.record_feedback(prediction_id, user, right, corrected, share_crop=user != "dave", now=SOON)
        ids[user] = prediction_id

    def users(limit: int | None = None, offset: int = 0, **filters) -> list[str]:
        by_prediction = {prediction_id: user for user, prediction_id in ids.items()}
        listed = repository.feedback_items(FeedbackFilter(**filters), limit=limit, offset=offset)
        return [by_prediction[item.prediction_id] for item in listed]

    assert users(label="mask_weared_incorrect") == ["alice", "dave"]
    assert users(label="with_mask") == ["bob", "carol"]  # bob said "right" to the bot's with_mask
    assert users(model_version="2") == ["bob", "carol"]
    assert users(label="with_mask", model_version="2", include_right=False) == ["carol"]
    assert users(with_crop=True, limit=2, offset=1) == ["bob", "carol"]
    assert repository.count_feedback(FeedbackFilter(with_crop=True)) == 3
    assert repository.count_feedback(FeedbackFilter(label="mask_weared_incorrect", with_crop=True)) == 1
    assert repository.feedback_model_versions() == ["1", "2", "10"]


def test_a_shared_crop_is_served_until_its_user_is_forgotten(repository):
    shared, declined = (repository.record_prediction(record("alice"), crop_png=name) for name in (b"yes", b"no"))
    repository.record_feedback(shared, "alice", False, "without_mask", share_crop=True, now=SOON)
    repository.record_feedback(declined, "alice", True, now=SOON)
    by_prediction = {item.prediction_id: item.feedback_id for item in repository.feedback_items()}
    assert repository.shared_crop(by_prediction[shared]) == b"yes"
    assert repository.shared_crop(by_prediction[declined]) is None
    repository.forget_user("alice")
    assert repository.shared_crop(by_prediction[shared]) is None


def test_only_a_users_latest_crops_wait_for_consent(repository, database):
    from storage.repository import PENDING_CROPS_PER_USER

    alices = [repository.record_prediction(record("alice"), crop_png=b"a") for _ in range(PENDING_CROPS_PER_USER + 5)]
    bobs = repository.record_prediction(record("bob"), crop_png=b"b")
    assert repository.record_feedback(alices[-1], "alice", True, share_crop=True, now=SOON) is FeedbackOutcome.STORED
    newer = [repository.record_prediction(record("alice"), crop_png=b"a") for _ in range(PENDING_CROPS_PER_USER)]
    waiting = crops(database)
    # Alice's newest crops wait, the one she shared stays, and Bob's is not pushed out by hers.
    assert sorted(waiting) == sorted([alices[-1], bobs, *newer])
    assert waiting[alices[-1]] == (b"a", True) and waiting[bobs] == (b"b", False)


def test_a_crop_is_kept_only_when_its_user_agrees_within_the_hour(repository, database):
    declined, late, waiting = (
        repository.record_prediction(record("alice"), crop_png=name.encode())
        for name in ("declined", "late", "waiting")
    )
    assert repository.record_feedback(declined, "alice", True, now=SOON) is FeedbackOutcome.STORED
    assert (
        repository.record_feedback(late, "alice", True, share_crop=True, now=AT + CROP_HOLD + timedelta(seconds=1))
        is FeedbackOutcome.STORED
    )
    assert crops(database) == {waiting: (b"waiting", False)}  # declined and too-late crops are gone
    assert repository.expire_pending_crops(now=AT + CROP_HOLD - timedelta(seconds=1)) == 0
    assert repository.expire_pending_crops(now=AT + CROP_HOLD + timedelta(seconds=1)) == 1
    assert crops(database) == {}
    assert repository.feedback_items(FeedbackFilter(with_crop=True)) == []


def test_forget_removes_exactly_one_users_rows_and_crops(repository, database):
    mine = [repository.record_prediction(record("alice"), crop_png=b"a") for _ in range(3)]
    theirs = repository.record_prediction(record("bob"), crop_png=b"b")
    repository.record_feedback(mine[0], "alice", False, "without_mask", share_crop=True, now=SOON)
    repository.record_feedback(mine[1], "alice", True, now=SOON)
    repository.record_feedback(theirs, "bob", False, "without_mask", share_crop=True, now=SOON)
    forgotten = repository.forget_user("alice")  # one shared crop and one still waiting (mine[2])
    assert (forgotten.predictions, forgotten.feedback, forgotten.crops) == (3, 2, 1)
    assert count(database, PredictionRow) == 1 and count(database, Feedback) == 1
    assert crops(database) == {theirs: (b"b", True)}
    assert repository.forget_user("alice").predictions == 0


def test_purge_removes_only_rows_older_than_the_retention(repository, database):
    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    old = repository.record_prediction(record(at=now - timedelta(days=31)), crop_png=b"old")
    recent = repository.record_prediction(record(at=now - timedelta(days=29)), crop_png=b"new")
    repository.record_feedback(
        old, "u1", False, "without_mask", share_crop=True, now=now - timedelta(days=31) + timedelta(minutes=1)
    )
    repository.record_feedback(
        recent, "u1", False, "without_mask", share_crop=True, now=now - timedelta(days=29) + timedelta(minutes=1)
    )
    choices = (("chose-long-ago", now - timedelta(days=31)), ("chose-lately", now), ("u1", now - timedelta(days=31)))
    for user_hash, chosen in choices:
        repository.set_language(user_hash, "es")
        with database.session() as session:
            session.get(UserSettings, user_hash).updated_at = chosen
    purged = repository.purge_older_than(30, now=now)
    assert (purged.predictions, purged.feedback, purged.crops) == (1, 1, 1)
    with database.session() as session:
        assert session.scalars(select(PredictionRow.id)).all() == [recent]
    assert crops(database) == {recent: (b"new", True)}
    # An old choice goes with its user's last rows; one whose user still has rows stays.
    assert [repository.language_of(user) for user, _ in choices] == [None, "es", "es"]


def test_summarise_is_idempotent_and_flags_a_skewed_day(repository, database):
    for i in range(60):
        repository.record_prediction(record(f"user{i}", "without_mask" if i < 45 else "with_mask", unsure=i % 10 == 0))
    reference = {"with_mask": 0.6, "without_mask": 0.2, "mask_weared_incorrect": 0.2}
    first = summaries.summarise(database, DAY, reference)
    second = summaries.summarise(database, DAY, reference)
    assert count(database, DailySummary) == 1
    assert first == second
    summary = second[0]
    assert (summary.count, summary.per_class["without_mask"], summary.per_class["with_mask"]) == (60, 45, 15)
    with database.session() as session:
        assert session.scalars(select(DailySummary.share_without_mask)).one() == pytest.approx(0.75)
    assert summary.unsure_share == pytest.approx(0.1)
    assert summary.reference == "model" and summary.drift_level == "drift"
    [day] = stats.stats(database, DAY, DAY).per_day
    assert day.reference_mix == reference and day.chi2_p_value == summary.chi2_p_value


def test_summaries_are_kept_per_model_version(repository, database):
    repository.record_prediction(record(version="1"))
    repository.record_prediction(record(version="2"))
    rows = summaries.summarise(database, DAY)
    assert [(row.model_version, row.count, row.reference) for row in rows] == [("1", 1, "none"), ("2", 1, "none")]
    assert [day.reference_mix for day in stats.stats(database, DAY, DAY).per_day] == [None, None]


def test_catch_up_fills_every_missing_day_once(repository, database):
    for offset in (0, 1, 3):
        repository.record_prediction(record(at=datetime(2026, 11, 20 + offset, 9, tzinfo=UTC)))
    done = summaries.catch_up(database, today=date(2026, 11, 25))
    assert done == [date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 23)]
    assert summaries.catch_up(database, today=date(2026, 11, 25)) == []
    assert count(database, DailySummary) == 3


def test_stats_cover_a_date_range(repository, database):
    for i, label in enumerate(["with_mask", "with_mask", "without_mask", "mask_weared_incorrect"]):
        prediction_id = repository.record_prediction(record(f"u{i}", label, unsure=i == 3))
        repository.record_feedback(prediction_id, f"u{i}", i != 2, None if i != 2 else "with_mask")
    repository.record_prediction(record(at=datetime(2026, 10, 1, tzinfo=UTC)))
    summaries.summarise(database, DAY)
    week = stats.stats(database, DAY - timedelta(days=6), DAY)
    assert week.count == 4
    assert week.per_class == {"with_mask": 2, "without_mask": 1, "mask_weared_incorrect": 1}
    assert week.unsure_share == 0.25 and week.disagreement_rate == 0.25
    assert [row.day for row in week.per_day] == [date(2026, 11, 20)]


def test_a_group_photos_faces_are_rows_of_one_photo(repository, database):
    from dataclasses import replace

    faces = [
        replace(record("alice", label), photo_id="p1", face_index=n, face_side=40 + n)
        for n, label in enumerate(["with_mask", "without_mask", "with_mask"], start=1)
    ]
    ids = repository.record_predictions(faces, [b"1", None, b"3"])
    single = repository.record_prediction(record("alice", "without_mask"))  # a row from before photo ids
    assert crops(database) == {ids[0]: (b"1", False), ids[2]: (b"3", False)}
    day = stats.stats(database, DAY, DAY)
    assert (day.photos, day.count, day.per_class["without_mask"]) == (2, 4, 2)
    face = repository.owned_face(ids[1], "alice")
    assert (face.label, face.number, face.faces, face.sides) == (
        "without_mask",
        2,
        tuple(zip((1, 2, 3), ids, strict=True)),
        (41, 42, 43),
    )
    # Sides 41, 42, 43: no face is three times the others, so the photo got the group answer.
    assert face.answered_face_by_face(3.0) and not face.answered_face_by_face(0.9)
    assert repository.owned_face(ids[1], "bob") is None
    alone = repository.owned_face(single, "alice")
    assert (alone.number, alone.faces, alone.answered_face_by_face(3.0)) == (1, ((1, single),), False)


def test_concurrent_writers_from_threads_lose_no_row(repository, database):
    def write(thread: int) -> None:
        for i in range(50):
            repository.record_prediction(record(f"t{thread}-{i}"))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert count(database, PredictionRow) == 400


def _write_and_summarise(url: str, crops: str, worker: int) -> None:
    database = Database(url)
    repository = Repository(database)
    for i in range(100):
        repository.record_prediction(record(f"p{worker}-{i}"))
    for _ in range(5):
        summaries.summarise(database, DAY)
    database.dispose()


def test_two_processes_writing_and_summarising_at_once(database, tmp_path):
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_and_summarise, args=(database.url, str(tmp_path), n)) for n in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    assert count(database, PredictionRow) == 200
    rows = summaries.summarise(database, DAY)
    assert len(rows) == 1 and rows[0].count == 200 and count(database, DailySummary) == 1


def test_secret_is_made_once_with_private_permissions(tmp_path):
    secret = load_secret(tmp_path, from_env="")
    assert load_secret(tmp_path, from_env="") == secret
    assert stat.S_IMODE(os.stat(tmp_path / "secret.key").st_mode) == 0o600
    assert load_secret(tmp_path, from_env="from-environment") == b"from-environment"


def test_a_lost_secret_starts_new_pseudonyms(tmp_path):
    before = Pseudonymizer(load_secret(tmp_path, from_env=""))(12345)
    (tmp_path / "secret.key").unlink()
    after = Pseudonymizer(load_secret(tmp_path, from_env=""))(12345)
    assert before != after and len(after) == 64 and "12345" not in after


def test_a_senders_pseudonym_is_computed_once_however_often_it_is_asked(monkeypatch):
    import hmac

    from storage import pseudonyms

    computed, keyed_hash = [], hmac.new
    monkeypatch.setattr(pseudonyms.hmac, "new", lambda *args: computed.append(args) or keyed_hash(*args))
    pseudonymize = Pseudonymizer(b"k1")
    assert len({pseudonymize(42) for _ in range(5)} | {pseudonymize("42")}) == 1
    assert pseudonymize(43) != pseudonymize(42)
    assert len(computed) == 2


def test_pseudonyms_are_keyed_and_stable():
    alice = Pseudonymizer(b"k1")
    assert alice(42) == alice("42") != Pseudonymizer(b"k2")(42)


def test_the_trailing_window_becomes_the_reference_once_it_is_large_enough(repository, database):
    model_mix = {"with_mask": 1 / 3, "without_mask": 1 / 3, "mask_weared_incorrect": 1 / 3}
    for day in range(1, 4):  # three weeks of a population that mostly wears masks
        for i in range(40):
            label = "with_mask" if i < 34 else "without_mask"
            repository.record_prediction(record(f"u{day}-{i}", label, at=datetime(2026, 11, day, 10, tzinfo=UTC)))
    for i in range(60):  # a day like the others
        repository.record_prediction(record(f"today{i}", "with_mask" if i < 51 else "without_mask"))
    summary = summaries.summarise(database, DAY, model_mix)[0]
    assert summary.reference == "trailing" and summary.drift_level == "none"
    first = summaries.summarise(database, date(2026, 11, 1), model_mix)[0]
    assert first.reference == "model" and first.drift_level == "none"  # 40 photos: too few to alarm


def test_the_database_file_is_private(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'data' / 'bot.db'}")
    assert stat.S_IMODE((tmp_path / "data" / "bot.db").stat().st_mode) == 0o600
    database.dispose()


def test_crop_files_shared_before_0004_move_into_the_database_and_tampered_names_stay_out(tmp_path):
    from alembic import command
    from alembic.config import Config

    from storage.database import MIGRATIONS, make_engine, upgrade

    url = f"sqlite:///{tmp_path / 'bot.db'}"
    engine = make_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0007")
    crops_dir = tmp_path / "crops"
    crops_dir.mkdir()
    (crops_dir / "1.png").write_bytes(b"\x89PNG shared in 2025")
    victim = tmp_path / "keep.txt"
    victim.write_text("not a crop")
    with engine.begin() as connection:
        for prediction_id, crop_path in ((1, "1.png"), (2, "../keep.txt"), (3, "3.png"), (4, None)):
            values = {**_row_values(record(f"u{prediction_id}"), AT), "id": prediction_id}
            connection.execute(insert(PredictionRow.__table__).values(values))
            connection.exec_driver_sql(
                "INSERT INTO feedback (id, prediction_id, user_hash, is_correct, corrected_label, crop_path,"
                " created_at, review_status) VALUES (?, ?, ?, 0, 'without_mask', ?, ?, 'accepted')",
                (prediction_id, prediction_id, f"u{prediction_id}", crop_path, SOON.isoformat()),
            )
    for elsewhere in (None, tmp_path / "not-the-data-folder"):  # every file would look lost
        with pytest.raises(RuntimeError, match="point at crop files"):
            upgrade(engine, elsewhere)
    assert current_revision(engine) == "0007"  # refused whole: nothing half done
    upgrade(engine, crops_dir)
    database = Database(url)
    assert current_revision(database.engine) == "0009"
    assert crops(database) == {1: (b"\x89PNG shared in 2025", True)}
    assert [item.crop for item in Repository(database).feedback_items()] == [
        b"\x89PNG shared in 2025",
        None,
        None,
        None,
    ]
    assert not (crops_dir / "1.png").exists() and victim.read_text() == "not a crop"
    assert Repository(database).forget_user("u1") == Deleted(predictions=1, feedback=1, crops=1)
    assert crops(database) == {}
    (crops_dir / "7.png").write_bytes(b"left by a crash after the move")
    Database(url, legacy_crops_dir=crops_dir).dispose()  # the next start deletes it
    assert sorted(path.name for path in crops_dir.iterdir()) == []
    database.dispose()


def test_each_drift_alert_is_claimed_once_even_by_concurrent_replicas(repository, database):
    day = DAY
    for i in range(80):
        repository.record_prediction(record(f"u{i}", "without_mask", at=datetime.combine(day, time(12), UTC)))
    summaries.summarise(database, day, reference={"with_mask": 0.8, "without_mask": 0.1, "mask_weared_incorrect": 0.1})
    claims = []
    barrier = threading.Barrier(4)

    def replica() -> None:
        other = Repository(Database(database.url, migrate=False))
        barrier.wait()
        claims.append(other.claim_drift_alerts(day - timedelta(days=1)))
        other.database.dispose()

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(map(len, claims)) == [0, 0, 0, 1]
    assert set().union(*claims) == {(day, "1")}
    assert repository.claim_drift_alerts(day - timedelta(days=1)) == set()


@pytest.fixture
def postgres_url():
    yield from _postgres_database()


@pytest.mark.postgres
def test_the_same_share_pressed_on_two_replicas_at_once_succeeds_on_both(postgres_url, tmp_path):
    first, second = Database(postgres_url), Database(postgres_url)
    replica_1, replica_2 = Repository(first), Repository(second)
    outcomes: list[FeedbackOutcome] = []
    pressed = {}

    def share_on_replica_2(session, flush_context, instances) -> None:
        # Replica 1 has read "not answered yet" and is about to write: on replica 2 the same
        # press ("right", share) commits first.
        def press() -> None:
            outcomes.append(replica_2.record_feedback(pressed["id"], "alice", True, share_crop=True, now=SOON))

        other = threading.Thread(target=press)
        other.start()
        other.join(30)

    pressed["id"] = replica_1.record_prediction(record("alice"), crop_png=b"crop")
    event.listen(Session, "before_flush", share_on_replica_2, once=True)
    outcomes.append(replica_1.record_feedback(pressed["id"], "alice", True, share_crop=True, now=SOON))
    assert outcomes == [FeedbackOutcome.STORED, FeedbackOutcome.STORED]
    assert count(first, Feedback) == 1 and crops(first) == {pressed["id"]: (b"crop", True)}
    # A different answer raced the same way is refused as given already.
    outcomes.clear()
    pressed["id"] = replica_1.record_prediction(record("alice"), crop_png=b"crop")
    event.listen(Session, "before_flush", share_on_replica_2, once=True)
    outcomes.append(replica_1.record_feedback(pressed["id"], "alice", False, "without_mask", now=SOON))
    assert outcomes == [FeedbackOutcome.STORED, FeedbackOutcome.ALREADY_ANSWERED]
    first.dispose()
    second.dispose()


def test_camera_counts_add_up_by_minute_and_stats_show_them_beside_the_chats(repository, database):
    at = datetime.combine(DAY, time(9, 30, 41), UTC)
    cameras.add_counts(database, "door", {at: {"with_mask": 3, "without_mask": 1}})
    # A second flush of the same minute (or a second watcher of the same name) adds to it.
    cameras.add_counts(database, "door", {at.replace(second=2): {"with_mask": 1, "mask_weared_incorrect": 0}})
    cameras.add_counts(database, "hall", {at + timedelta(days=1): {"without_mask": 2}})
    repository.record_prediction(record("u1", "with_mask"))
    assert cameras.minutes(database, "door", at - timedelta(hours=1)) == {
        at.replace(second=0): {"with_mask": 4, "without_mask": 1}
    }
    day = stats.stats(database, DAY, DAY)
    assert day.count == 1 and day.per_class["with_mask"] == 1  # faces of chats, cameras apart
    assert [(camera.camera, camera.per_label, camera.people) for camera in day.cameras] == [
        ("door", {"with_mask": 4, "without_mask": 1}, 5)
    ]
    assert day.as_dict()["cameras"] == [
        {"camera": "door", "people": 5, "per_label": {"with_mask": 4, "without_mask": 1}}
    ]
    assert [camera.camera for camera in stats.stats(database, DAY, DAY + timedelta(days=1)).cameras] == ["door", "hall"]


def test_an_alert_is_claimed_by_one_caller_only(database):
    now = datetime.combine(DAY, time(10, 7), UTC)
    window = cameras.window_start(now, 10)
    assert window == datetime.combine(DAY, time(10, 0), UTC)
    assert [cameras.claim(database, f"camera door {window.isoformat()}", now) for _ in range(3)] == [True, False, False]
    assert cameras.claim(database, f"camera hall {window.isoformat()}", now)


def test_retention_deletes_old_camera_counts_and_claims(repository, database):
    old = datetime(2026, 8, 1, 12, tzinfo=UTC)
    cameras.add_counts(database, "door", {old: {"with_mask": 2}, datetime.combine(DAY, time(9), UTC): {"with_mask": 1}})
    cameras.claim(database, "camera door old", old)
    repository.purge_older_than(30, now=datetime.combine(DAY, time(12), UTC))
    assert [
        tally.people for tally in cameras.tallies(database, old - timedelta(days=1), old + timedelta(days=200))
    ] == [1]
    assert cameras.claim(database, "camera door old", old)  # the old claim is gone
