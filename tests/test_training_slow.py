"""The full training recipes on the real data: v3's about 30 minutes on 2 cores, so marked slow.

Run with `make test-slow` (CI does, after the default suite), or `make test-all` for both. The
default run trains a tiny model instead (tests/test_model.py) to check the same code path in seconds.
"""

from __future__ import annotations

import json

import pytest

from model.registry import SHIPPED_MODEL
from training.train import TrainConfig, train


@pytest.mark.slow
def test_the_recipe_reproduces_the_shipped_scores(shared_data, tmp_path):
    out = tmp_path / "model"
    train(
        TrainConfig(
            data_dir=shared_data / "masks3",
            more_data=[shared_data / "ilc3"],
            out_dir=out,
            split_file=SHIPPED_MODEL / "split.json",
            check_dirs=[shared_data / "external2"],
            verbose=2,
        )
    )
    metrics = json.loads((out / "metadata.json").read_text())["metrics"]
    shipped = json.loads((SHIPPED_MODEL / "metadata.json").read_text())["metrics"]
    for fixed_test in ("test", "ilc3_test"):  # both fixed test lists, reused from the shipped model
        assert metrics[fixed_test]["count"] == shipped[fixed_test]["count"]
        assert metrics[fixed_test]["balanced_accuracy"] >= shipped[fixed_test]["balanced_accuracy"] - 0.03
    assert metrics["external2"]["mask_vs_no_mask_accuracy"] >= 0.95


@pytest.mark.slow
def test_the_report_baseline_trains_the_reports_way(shared_data, tmp_path):
    out = tmp_path / "baseline"
    train(
        TrainConfig(
            data_dir=shared_data / "masks3",
            out_dir=out,
            recipe="report",
            split_file=SHIPPED_MODEL / "split.json",
            verbose=2,
        )
    )
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["parameters"] == 7_400_771
    assert metadata["training"]["epochs_run"] <= 20
    assert metadata["metrics"]["test"]["balanced_accuracy"] >= 0.8
