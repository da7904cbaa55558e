"""A console's world for its tests: a registry with a challenger the gate rejected, two weeks of
summarised predictions with a drift day, and feedback with real face crops from ilc3."""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from PIL import Image

from model.registry import Registry, shipped_versions
from storage import summaries
from storage.repository import Repository, utc_now
from tests.support.storage_fixtures import record
from training.retrain import gate

TOKEN = "console-test-token-0123456789abcdefghij"
GATE_REASON = "not better on held-out feedback: 0.4000 <= 0.5000"


def face_crops(shared_data: Path, per_class: int = 2) -> dict[str, list[bytes]]:
    """The first `per_class` ilc3 face crops of each class, as the bot stores them: 128x128 PNG."""
    crops = {}
    for label in ("with_mask", "without_mask", "mask_weared_incorrect"):
        files = sorted((shared_data / "ilc3" / label).glob("*.jpg"))[:per_class]
        crops[label] = []
        for path in files:
            with Image.open(path) as image:
                buffer = io.BytesIO()
                image.convert("RGB").resize((128, 128)).save(buffer, "PNG")
                crops[label].append(buffer.getvalue())
    return crops


def registry_with_challenger(root: Path) -> Registry:
    """A registry of an earlier release (shipped v1, then v2 champion) and v3, a copy of v1 that the
    gate rejected. The console seeds the models shipped since (v3 arrives as a candidate, v4)."""
    registry = Registry(root)
    registry.seed(shipped_versions()[:2])
    shutil.copytree(shipped_versions()[0], root / "v3")
    scores = {
        "champion": {"fixed_test": 0.89, "check:real3": 0.76, "feedback": 0.5},
        "challenger": {"fixed_test": 0.90, "check:real3": 0.77, "feedback": 0.4},
    }
    gate(scores, "v2", "v3").save(root / "v3" / "gate.json")
    return registry


@dataclass(frozen=True)
class Feedback:
    """The feedback ids the tests act on, by what their users said."""

    corrections: list[int]
    """Pending: a user said the answer was wrong and gave the label, with the crop shared."""
    confirmation: int
    """Pending: a user said "right", with the crop shared."""
    forgotten_user: str
    forgotten: int
    """A correction whose user will use /forget in the test that needs it."""


def seed(repository: Repository, crops: dict[str, list[bytes]], reference: dict[str, float]) -> Feedback:
    now = utc_now()
    # Two weeks of answers: an even mix, then a day that is mostly "no mask" (a drift day).
    for days_ago in range(14, 0, -1):
        labels = ["with_mask"] * 30 + ["without_mask"] * 25 + ["mask_weared_incorrect"] * 5
        if days_ago == 3:
            labels = ["with_mask"] * 8 + ["without_mask"] * 70 + ["mask_weared_incorrect"] * 2
        at = now - timedelta(days=days_ago)
        rows = [record(f"crowd{i}", label, at=at, version="v2") for i, label in enumerate(labels)]
        repository.record_predictions(rows, [None] * len(rows))
    summaries.catch_up(repository.database, reference=reference)

    def give(user: str, bot_said: str, user_says: str | None, png: bytes, version: str = "v2") -> int:
        [prediction_id] = repository.record_predictions([record(user, bot_said, at=now, version=version)], [png])
        repository.record_feedback(prediction_id, user, user_says is None, user_says, share_crop=True)
        return next(item.feedback_id for item in repository.feedback_items() if item.prediction_id == prediction_id)

    corrections = [
        give("ana", "with_mask", "mask_weared_incorrect", crops["mask_weared_incorrect"][0]),
        give("bruno", "without_mask", "with_mask", crops["with_mask"][0]),
        give("carla", "with_mask", "without_mask", crops["without_mask"][0], version="v1"),
    ]
    confirmation = give("diego", "with_mask", None, crops["with_mask"][1])
    forgotten = give("elena", "without_mask", "mask_weared_incorrect", crops["mask_weared_incorrect"][1])
    return Feedback(corrections, confirmation, "elena", forgotten)
