"""Write throughput of the prediction log, through the same call the bot makes per photo."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from storage.database import Database
from storage.repository import PredictionRecord, Repository


def prediction_rows_per_second(rows: int = 2000, database_url: str | None = None) -> float:
    """One transaction per row, as the bot commits each answer on its own."""
    with tempfile.TemporaryDirectory() as folder:
        database = Database(database_url or f"sqlite:///{Path(folder) / 'write_speed.db'}")
        repository = Repository(database)
        record = PredictionRecord(
            user_hash="0" * 64,
            chat_type="private",
            input_kind="photo",
            label="with_mask",
            confidence=0.9,
            probabilities={"with_mask": 0.9, "without_mask": 0.05, "mask_weared_incorrect": 0.05},
            unsure=False,
            model_version="write-speed",
            face_found=True,
            face_fraction=0.2,
            brightness=0.5,
            sharpness=100.0,
            image_width=1280,
            image_height=960,
            latency_ms=10.0,
        )
        started = time.perf_counter()
        for _ in range(rows):
            repository.record_prediction(record)
        elapsed = time.perf_counter() - started
        database.dispose()
    return rows / elapsed
