"""Scoring a model folder on labelled data folders, and printing the report's tables."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from model import CLASS_NAMES, metrics
from model.dataset import Split, cached_arrays
from model.predictor import Predictor


def evaluate(predictor: Predictor, data_dir: Path, cache_dir: Path, test_split_only: bool | None = None) -> dict:
    """Scores on one folder. On the model's own training folder only its fixed test split counts."""
    arrays = cached_arrays(data_dir, cache_dir)
    index = np.arange(len(arrays.files))
    split_file = predictor.model_dir / "split.json"
    if test_split_only is None:
        test_split_only = split_file.exists() and Split.load(split_file).data_fingerprint == arrays.fingerprint
    part = "all images"
    if test_split_only:
        index = arrays.select(Split.load(split_file).files("test"))
        part = "fixed test split"
    if not len(index):
        raise ValueError(f"no images to score in {data_dir} ({part})")
    pixels = arrays.view(predictor.preprocessing)
    probabilities = np.concatenate(
        [predictor.probabilities(pixels[index[i : i + 256]]) for i in range(0, len(index), 256)]
    )
    result = metrics.summary(arrays.labels[index], probabilities)
    result.update({"data_dir": str(data_dir), "part": part,
                   "unsure_share": float(np.mean(probabilities.max(axis=1) < predictor.threshold))})
    return result


def format_scores(name: str, scores: dict) -> str:
    """The report's confusion matrix and classification report, plus the scores it lacked."""
    lines = [f"== {name} ({scores['part']}, {scores['count']} images)"]
    matrix = np.asarray(scores["confusion_matrix"])
    width = max(len(c) for c in CLASS_NAMES) + 2
    lines.append("confusion matrix (rows: true, columns: predicted)")
    lines.append(" " * width + "".join(f"{c[:12]:>14}" for c in CLASS_NAMES))
    for name_row, row in zip(CLASS_NAMES, matrix):
        lines.append(f"{name_row:<{width}}" + "".join(f"{value:>14}" for value in row))
    lines.append("")
    lines.append(f"{'':<{width}}{'precision':>10}{'recall':>10}{'f1-score':>10}{'support':>10}")
    report = scores["report"]
    for class_name, row in report["classes"].items():
        lines.append(f"{class_name:<{width}}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1']:>10.3f}"
                     f"{row['support']:>10}")
    for average in ("macro", "weighted"):
        row = report[average]
        lines.append(f"{average + ' avg':<{width}}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1']:>10.3f}"
                     f"{row['support']:>10}")
    lines.append("")
    lines.append(f"accuracy {scores['accuracy']:.4f}   balanced accuracy {scores['balanced_accuracy']:.4f}   "
                 f"mask-vs-no-mask {scores['mask_vs_no_mask_accuracy']:.4f}")
    lines.append(f"expected calibration error {scores['expected_calibration_error']:.4f}   "
                 f"unsure share {scores.get('unsure_share', float('nan')):.3f}")
    return "\n".join(lines)


def default_cache_dir() -> Path:
    return Path(os.environ.get("MASKBOT_CACHE", ".cache"))
