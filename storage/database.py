"""Engine creation, SQLite pragmas and automatic Alembic migrations."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_DATABASE_URL = "sqlite:///data/maskbot.db"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
LEGACY_CROP_NAME = re.compile(r"[0-9]{1,18}\.png")
"""The names crops were shared under before revision 0008 (`<prediction id>.png`)."""
log = logging.getLogger(__name__)


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout for concurrent writers."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created private before SQLite opens it: the rows are user data. Its -wal and -shm
        # files are made by SQLite with the database file's own permissions.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        os.chmod(path, 0o600)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # pysqlite's own transaction handling would defer BEGIN; take it over so that
        # "BEGIN IMMEDIATE" below really locks before the first read of an upsert.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def newest_revision() -> str:
    """The newest migration's revision: each file is named after its own ("0008_...")."""
    return max(path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))


def upgrade(engine: Engine, legacy_crops_dir: Path | None = None) -> None:
    """Apply every pending Alembic migration (a no-op on an up-to-date database).

    A database already at the newest revision, as at every start but the first after an
    upgrade, is left without loading Alembic: a tenth of a second and 12 MB of each replica.
    `legacy_crops_dir` is the folder crops were shared into before they moved into the database:
    revision 0008 moves them, and the files there are deleted once it has committed."""
    if current_revision(engine) == newest_revision():
        _remove_legacy_crop_files(legacy_crops_dir)
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["legacy_crops_dir"] = legacy_crops_dir
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    _remove_legacy_crop_files(legacy_crops_dir)


def _remove_legacy_crop_files(crops_dir: Path | None) -> None:
    """Delete the crop files left in the old crops folder: from revision 0008 on every shared crop
    is in the database, so a file there was moved into it (and a crash stopped its deletion) or
    belonged to nobody any more; either way /forget and retention could no longer reach it."""
    if crops_dir is None or not crops_dir.is_dir():
        return
    for path in crops_dir.iterdir():
        if LEGACY_CROP_NAME.fullmatch(path.name):
            try:
                path.unlink()
            except OSError as error:
                log.warning("event=legacy_crop_not_deleted reason=%s", type(error).__name__)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes for UTC columns; PostgreSQL aware ones."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def insert_for(session: Session, table: type) -> postgresql.Insert | sqlite.Insert:
    """An INSERT of `table` in the session's dialect, which has ON CONFLICT (an upsert): both
    PostgreSQL's and SQLite's, the two databases maskbot runs on."""
    dialect = session.get_bind().dialect.name
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


class Database:
    """An engine plus a session factory; migrates on construction unless told not to."""

    def __init__(
        self, url: str = DEFAULT_DATABASE_URL, migrate: bool = True, legacy_crops_dir: Path | None = None
    ) -> None:
        self.url = url
        self.engine = make_engine(url)
        if migrate:
            upgrade(self.engine, legacy_crops_dir)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
