"""What the predictions add up to: tallies over a set of rows, and the stats of a span of days
with its stored daily summaries. /stats, /drift, the alerts, the console and `maskbot stats` read
through here; the daily summaries (`storage.summaries`) are computed from the same tally.

Everything returned is a plain value: no database row leaves this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select

from storage.cameras import CameraTally, tallies
from storage.database import Database
from storage.repository import day_bounds, utc_now
from storage.tables import STORED_CLASSES, DailySummary, Feedback, PredictionRow

MAX_DAYS = 365
"""The longest span /stats, the console's drift page and `maskbot stats` report on: a year of
daily summaries is still one query and one readable chart."""


@dataclass(frozen=True)
class Tally:
    """Counts over a set of predictions: the one query behind /stats and the daily summaries."""

    per_class: dict[str, int]
    """Faces judged, by the label answered."""
    unsure: int
    mean_confidence: float | None
    feedback: int
    marked_wrong: int
    photos: int
    """Photos answered: a group photo counts once, however many faces it had."""

    @property
    def count(self) -> int:
        """Faces judged."""
        return sum(self.per_class.values())


def tally(session, *conditions) -> Tally:
    """Per-class counts, unsure count, mean confidence and feedback of the predictions matching
    `conditions` (SQLAlchemy expressions on PredictionRow)."""
    per_class = dict.fromkeys(STORED_CLASSES, 0)
    for label, count in session.execute(
        select(PredictionRow.label, func.count()).where(*conditions).group_by(PredictionRow.label)
    ):
        per_class[label] = count
    unsure, mean_confidence, group_photos, single_photos = session.execute(
        select(
            func.count().filter(PredictionRow.unsure.is_(True)),
            func.avg(PredictionRow.confidence),
            func.count(PredictionRow.photo_id.distinct()),
            # Rows from before group photos have no photo id: each was a photo of its own.
            func.count().filter(PredictionRow.photo_id.is_(None)),
        ).where(*conditions)
    ).one()
    feedback, marked_wrong = session.execute(
        select(func.count(), func.count().filter(Feedback.is_correct.is_(False)))
        .select_from(Feedback)
        .join(PredictionRow)
        .where(*conditions)
    ).one()
    return Tally(
        per_class,
        int(unsure or 0),
        None if mean_confidence is None else float(mean_confidence),
        int(feedback),
        int(marked_wrong),
        int(group_photos or 0) + int(single_photos or 0),
    )


@dataclass(frozen=True)
class DaySummary:
    """One stored daily summary, as /stats, /drift and the alerts read it."""

    day: date
    model_version: str
    count: int
    per_class: dict[str, int]
    unsure_share: float
    drift_level: str
    psi: float | None
    reference: str
    reference_mix: dict[str, float] | None = None
    """The class shares the day was compared with (None for days summarised before they were kept)."""
    chi2_p_value: float | None = None

    @classmethod
    def of(cls, row: DailySummary) -> DaySummary:
        reference_mix = {name: getattr(row, f"reference_share_{name}") for name in STORED_CLASSES}
        return cls(
            row.day,
            row.model_version,
            row.count,
            {name: getattr(row, f"count_{name}") for name in STORED_CLASSES},
            row.unsure_share,
            row.drift_level,
            row.psi,
            row.reference,
            None if None in reference_mix.values() else reference_mix,
            row.chi2_p_value,
        )

    def as_dict(self) -> dict:
        return {
            "day": self.day.isoformat(),
            "model_version": self.model_version,
            "count": self.count,
            **self.per_class,
            "unsure_share": self.unsure_share,
            "drift_level": self.drift_level,
            "psi": self.psi,
            "chi2_p_value": self.chi2_p_value,
            "reference": self.reference,
            "reference_mix": self.reference_mix,
        }


@dataclass
class Stats:
    start: date
    end: date
    count: int = 0
    per_class: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STORED_CLASSES, 0))
    unsure: int = 0
    mean_confidence: float | None = None
    feedback: int = 0
    marked_wrong: int = 0
    per_day: list[DaySummary] = field(default_factory=list)
    photos: int = 0
    """Photos answered; `count` and `per_class` count faces judged (a group photo has several)."""
    cameras: list[CameraTally] = field(default_factory=list)
    """People the camera watchers counted, camera by camera: beside the chats' faces, never mixed in."""

    @property
    def worst_drift_level(self) -> str:
        """ "drift" if any day drifted, else "watch" if any day was watched, else "none"."""
        levels = {row.drift_level for row in self.per_day}
        return "drift" if "drift" in levels else "watch" if "watch" in levels else "none"

    @property
    def unsure_share(self) -> float | None:
        return self.unsure / self.count if self.count else None

    @property
    def disagreement_rate(self) -> float | None:
        return self.marked_wrong / self.feedback if self.feedback else None

    def as_dict(self) -> dict:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "count": self.count,
            "photos": self.photos,
            "per_class": self.per_class,
            "unsure_share": self.unsure_share,
            "mean_confidence": self.mean_confidence,
            "feedback": self.feedback,
            "disagreement_rate": self.disagreement_rate,
            "per_day": [day.as_dict() for day in self.per_day],
            "cameras": [camera.as_dict() for camera in self.cameras],
        }


def stats(database: Database, start: date, end: date) -> Stats:
    """Counts per class, unsure share, confidence and feedback for the UTC days start..end."""
    since, _ = day_bounds(start)
    _, until = day_bounds(end)
    with database.session() as session:
        counts = tally(session, PredictionRow.created_at >= since, PredictionRow.created_at < until)
        per_day = [
            DaySummary.of(row)
            for row in session.scalars(
                select(DailySummary)
                .where(DailySummary.day >= start, DailySummary.day <= end)
                .order_by(DailySummary.day, DailySummary.model_version)
            )
        ]
    return Stats(
        start,
        end,
        counts.count,
        counts.per_class,
        counts.unsure,
        counts.mean_confidence,
        counts.feedback,
        counts.marked_wrong,
        per_day,
        counts.photos,
        tallies(database, since, until),
    )


def recent_stats(database: Database, days: int) -> Stats:
    """`stats` of the last `days` UTC days, today included: what /stats, the CLI and the
    console's drift page show."""
    end = utc_now().date()
    return stats(database, end - timedelta(days=days - 1), end)
