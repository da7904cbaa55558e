"""Daily summaries: one row per UTC day and model version, safe to compute twice or in parallel."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from sqlalchemy import func, select

from storage import drift
from storage.database import Database, insert_for
from storage.repository import day_bounds, utc_now
from storage.stats import DaySummary, tally
from storage.tables import STORED_CLASSES, DailySummary, PredictionRow

TRAILING_DAYS = 28


def summarise(database: Database, day: date, reference: Mapping[str, float] | None = None) -> list[DaySummary]:
    """Compute (or recompute) `day`'s rows, one per model version seen that day.

    The reference mix is the trailing `TRAILING_DAYS` days before `day` once they hold enough
    predictions: real users are not the training set's even mix, and comparing with it would
    alarm every day. Until then `reference` (the model's training mix, from its metadata) serves.
    """
    since, until = day_bounds(day)
    rows = []
    with database.session() as session:
        versions = session.scalars(
            select(PredictionRow.model_version)
            .where(PredictionRow.created_at >= since, PredictionRow.created_at < until)
            .distinct()
        ).all()
        for version in sorted(versions):
            rows.append(_summary_values(session, day, version, reference))
        for values in rows:
            _upsert(session, values)
    with database.session() as session:
        return [
            DaySummary.of(row)
            for row in session.scalars(
                select(DailySummary).where(DailySummary.day == day).order_by(DailySummary.model_version)
            )
        ]


def _summary_values(session, day: date, version: str, reference: Mapping[str, float] | None) -> dict:
    since, until = day_bounds(day)
    today = tally(
        session,
        PredictionRow.created_at >= since,
        PredictionRow.created_at < until,
        PredictionRow.model_version == version,
    )
    counts = [today.per_class[name] for name in STORED_CLASSES]
    window = tally(
        session, PredictionRow.created_at >= since - timedelta(days=TRAILING_DAYS), PredictionRow.created_at < since
    )
    trailing = [window.per_class[name] for name in STORED_CLASSES]
    if window.photos >= drift.MIN_SAMPLE:
        # Smoothed like today's counts, so a class the window never saw is rare, not impossible.
        expected, reference_name = drift.smoothed_shares(trailing), "trailing"
    elif reference is not None:
        expected, reference_name = [float(reference[name]) for name in STORED_CLASSES], "model"
    else:
        expected, reference_name = None, "none"
    reference_mix = (
        dict.fromkeys(STORED_CLASSES) if expected is None else dict(zip(STORED_CLASSES, expected, strict=True))
    )
    total = today.count
    psi = js = p_value = None
    level = "none"
    if expected is not None and total:
        psi = drift.population_stability_index(counts, expected)
        js = drift.jensen_shannon_distance(counts, expected)
        p_value = drift.chi_square_p_value(counts, expected)
        # The sample is photos, not faces: the faces of one group photo are not independent draws.
        level = drift.drift_level(today.photos, psi, p_value)
    return {
        "day": day,
        "model_version": version,
        "count": total,
        **{f"count_{name}": c for name, c in zip(STORED_CLASSES, counts, strict=True)},
        **{f"share_{name}": c / total if total else 0.0 for name, c in zip(STORED_CLASSES, counts, strict=True)},
        "unsure_share": today.unsure / total if total else 0.0,
        "mean_confidence": today.mean_confidence or 0.0,
        "feedback_count": today.feedback,
        "disagreement_rate": today.marked_wrong / today.feedback if today.feedback else None,
        "reference": reference_name,
        **{f"reference_share_{name}": share for name, share in reference_mix.items()},
        "psi": psi,
        "js_distance": js,
        "chi2_p_value": p_value,
        "drift_level": level,
        "computed_at": utc_now(),
    }


def _upsert(session, values: dict) -> None:
    statement = insert_for(session, DailySummary).values(**values)
    changes = {key: statement.excluded[key] for key in values if key not in ("day", "model_version")}
    session.execute(statement.on_conflict_do_update(index_elements=["day", "model_version"], set_=changes))


def catch_up(
    database: Database,
    today: date | None = None,
    reference: Mapping[str, float] | None = None,
) -> list[date]:
    """Summarise every finished day since the last summary (or the first prediction).

    Returns the days that got rows; a day without predictions has nothing to summarise."""
    today = today or utc_now().date()
    with database.session() as session:
        last = session.scalar(select(func.max(DailySummary.day)))
        first_prediction = session.scalar(select(func.min(PredictionRow.created_at)))
    if last is not None:
        start = last + timedelta(days=1)
    elif first_prediction is not None:
        start = first_prediction.date()
    else:
        return []
    days = [start + timedelta(days=i) for i in range((today - start).days)]
    return [day for day in days if summarise(database, day, reference)]
