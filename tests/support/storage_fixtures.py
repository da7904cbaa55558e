"""Databases for the storage tests: a fresh SQLite file, and a fresh PostgreSQL database when a
server answers. Locally those tests skip with the reason; under CI (`CI=true`, set by `.ci/run`)
a missing server fails them, so a broken server start cannot pass as green."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from model import CLASS_NAMES
from storage.repository import PredictionRecord
from tests.support import unavailable

POSTGRES_URL = os.environ.get(
    "MASKBOT_TEST_POSTGRES_URL", "postgresql+psycopg://maskbot:maskbot@127.0.0.1:5432/postgres"
)


def _postgres_database():
    """Create a throw-away database on the test server; yields its URL, drops it afterwards."""
    admin_url = make_url(POSTGRES_URL)
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as connection:
            name = f"maskbot_test_{uuid.uuid4().hex[:10]}"
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # any failure to reach the server means "no server here"
        reason = (
            f"no PostgreSQL server at {admin_url.render_as_string(hide_password=True)}: "
            f"{type(error).__name__}; .ci/run starts one"
        )
        unavailable(reason)
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'maskbot.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture
def database(database_url):
    from storage.database import Database

    db = Database(database_url)
    yield db
    db.dispose()


@pytest.fixture
def repository(database, tmp_path):
    from storage.repository import Repository

    return Repository(database)


def record(
    user_hash: str = "u1",
    label: str = "with_mask",
    at: datetime | None = None,
    unsure: bool = False,
    version: str = "1",
) -> PredictionRecord:
    probabilities = {name: 0.9 if name == label else 0.05 for name in CLASS_NAMES}
    return PredictionRecord(
        user_hash=user_hash,
        chat_type="private",
        input_kind="photo",
        label=label,
        confidence=max(probabilities.values()),
        probabilities=probabilities,
        unsure=unsure,
        model_version=version,
        face_found=True,
        face_fraction=0.2,
        brightness=0.5,
        sharpness=120.0,
        image_width=1280,
        image_height=960,
        latency_ms=12.5,
        created_at=at or datetime(2026, 11, 20, 12, tzinfo=UTC),
    )
