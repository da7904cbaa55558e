"""Reviewed feedback crops out to an image folder that `maskbot retrain` reads."""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from storage.repository import FeedbackFilter, Repository

MANIFEST_FIELDS = ("prediction_id", "predicted_label", "corrected_label", "confidence", "model_version", "date")


@dataclass(frozen=True)
class ExportResult:
    written: int
    pending_skipped: int


def export_feedback(
    repository: Repository, out_dir: Path, since: date | None = None, include_right: bool = False
) -> ExportResult:
    """Write accepted feedback crops as `out_dir/<label>/<prediction id>.png` and a manifest.

    Only crops an operator accepted are written: a click on "Wrong" alone never trains a model.
    Crops of users who used /forget were deleted with their rows, so they cannot come back here.
    """
    accepted = FeedbackFilter(status="accepted", since=since, with_crop=True, include_right=include_right)
    items = repository.feedback_items(accepted)
    pending = repository.count_feedback(replace(accepted, status="pending"))
    out_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    with (out_dir / "manifest.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(MANIFEST_FIELDS)
        for item in items:
            assert item.crop is not None  # `with_crop` lists only the items whose crop is kept
            target = out_dir / item.label / f"{item.prediction_id}.png"
            target.parent.mkdir(exist_ok=True)
            target.write_bytes(item.crop)
            writer.writerow(
                (
                    item.prediction_id,
                    item.predicted_label,
                    item.label,
                    f"{item.confidence:.4f}",
                    item.model_version,
                    item.created_at.date().isoformat(),
                )
            )
            written += 1
    return ExportResult(written, pending)
