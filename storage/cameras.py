"""What camera watchers (`maskbot watch`) write and the bot, the console and the CLI read: people
counted per camera, minute and verdict; the running cameras; and alert claims, so that of several
processes seeing the same thing, one tells the admins.

Labels are whatever the caller counts by: storage keeps no list of classes of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from storage.database import Database, as_utc, insert_for
from storage.tables import AlertClaim, Camera, CameraCount

MAX_NAME = 64
"""A camera's name: the key of its rows, shown to admins."""


def minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def add_counts(database: Database, camera: str, counts: Mapping[datetime, Mapping[str, int]]) -> None:
    """Add people to the counts of `camera`'s minutes: {minute: {label: people}}. Added, not
    replaced, so a minute written in two flushes (or by two watchers of one name) sums up."""
    rows = [
        {"camera": camera, "minute": minute_of(minute), "label": label, "people": people}
        for minute, by_label in counts.items()
        for label, people in by_label.items()
        if people
    ]
    if not rows:
        return
    with database.session() as session:
        statement = insert_for(session, CameraCount).values(rows)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["camera", "minute", "label"],
                set_={"people": CameraCount.people + statement.excluded.people},
            )
        )


@dataclass
class CameraTally:
    """One camera's people over a span of time, by verdict."""

    camera: str
    per_label: dict[str, int] = field(default_factory=dict)

    @property
    def people(self) -> int:
        return sum(self.per_label.values())

    def share(self, *labels: str) -> float | None:
        return sum(self.per_label.get(label, 0) for label in labels) / self.people if self.people else None

    def as_dict(self) -> dict:
        return {"camera": self.camera, "people": self.people, "per_label": dict(self.per_label)}


def tallies(database: Database, since: datetime, until: datetime, camera: str | None = None) -> list[CameraTally]:
    """Every camera's people counted in [since, until), by name."""
    query = (
        select(CameraCount.camera, CameraCount.label, func.sum(CameraCount.people))
        .where(CameraCount.minute >= since, CameraCount.minute < until)
        .group_by(CameraCount.camera, CameraCount.label)
        .order_by(CameraCount.camera)
    )
    if camera is not None:
        query = query.where(CameraCount.camera == camera)
    found: dict[str, CameraTally] = {}
    with database.session() as session:
        for name, label, people in session.execute(query):
            found.setdefault(name, CameraTally(name)).per_label[label] = int(people)
    return list(found.values())


def minutes(database: Database, camera: str, since: datetime) -> dict[datetime, dict[str, int]]:
    """A camera's counts minute by minute since `since`: what the console's live chart draws."""
    query = (
        select(CameraCount.minute, CameraCount.label, CameraCount.people)
        .where(CameraCount.camera == camera, CameraCount.minute >= since)
        .order_by(CameraCount.minute)
    )
    found: dict[datetime, dict[str, int]] = {}
    with database.session() as session:
        for minute, label, people in session.execute(query):
            found.setdefault(as_utc(minute), {})[label] = people
    return found


def announce(database: Database, name: str, stream_url: str | None, now: datetime) -> None:
    """A watcher says it runs (again), and where its live view is."""
    with database.session() as session:
        statement = insert_for(session, Camera).values(name=name, stream_url=stream_url, seen_at=now)
        session.execute(
            statement.on_conflict_do_update(index_elements=["name"], set_={"stream_url": stream_url, "seen_at": now})
        )


@dataclass(frozen=True)
class CameraInfo:
    name: str
    stream_url: str | None
    seen_at: datetime


def cameras(database: Database) -> list[CameraInfo]:
    """Every camera that ever announced itself, by name."""
    with database.session() as session:
        return [
            CameraInfo(row.name, row.stream_url, as_utc(row.seen_at))
            for row in session.scalars(select(Camera).order_by(Camera.name))
        ]


def claim(database: Database, key: str, now: datetime) -> bool:
    """Whether this caller is the first to claim `key`: an INSERT that only one process wins."""
    try:
        with database.session() as session:
            session.add(AlertClaim(key=key, claimed_at=now))
    except IntegrityError:
        return False
    return True


def window_start(moment: datetime, minutes_long: int) -> datetime:
    """The start of the fixed window of `minutes_long` minutes (counted from midnight UTC) holding
    `moment`: alerts are claimed once per camera per such window."""
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    elapsed = (moment - midnight) // timedelta(minutes=minutes_long)
    return midnight + elapsed * timedelta(minutes=minutes_long)
