"""Scoring a model folder on labelled data folders, and printing the report's tables."""

from __future__ import annotations

import math
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
    split = own_split(predictor.model_dir, arrays.fingerprint)
    if test_split_only is None:
        test_split_only = split is not None
    part = "all images"
    if test_split_only:
        if split is None:
            raise ValueError(f"{predictor.model_dir} has no split of {data_dir}")
        index = arrays.select(split.files("test"))
        part = "fixed test split"
    if not len(index):
        raise ValueError(f"no images to score in {data_dir} ({part})")
    pixels = arrays.view(predictor.preprocessing)
    probabilities = np.concatenate(
        [predictor.probabilities(pixels[index[i : i + 256]]) for i in range(0, len(index), 256)]
    )
    result = metrics.summary(arrays.labels[index], probabilities, predictor.threshold)
    return {**result, "data_dir": str(data_dir), "part": part, "unsure_share": 1 - result["coverage"]}


def evaluate_photos(predictor: Predictor, data_dir: Path) -> dict:
    """Scores through the bot's own path: each file decoded as a user's photo, its face found,
    cropped and classified. Photos in which no face is found are refused, as the bot refuses them:
    counted in `no_face_share`, left out of the other scores; so are images the bot refuses before
    looking (`unusable_share`: under 32 px, say). Own training folder: test split only."""
    from model.dataset import fingerprint, list_images
    from model.images import ImageError
    from model.predictor import NoFaceFound

    items = list_images(data_dir)
    split = own_split(predictor.model_dir, fingerprint(items))
    part = "all images"
    if split is not None:
        test = set(split.files("test"))
        items = [item for item in items if item.relative in test]
        part = "fixed test split"
    labels, rows, refused, unusable = [], [], 0, 0
    for item in items:
        try:
            result = predictor.predict_many([item.path])[0]
        except ImageError:  # too small or unreadable: the bot refuses these before looking for faces
            unusable += 1
            continue
        if isinstance(result, NoFaceFound):
            refused += 1
            continue
        labels.append(item.label)
        rows.append([result.probabilities[name] for name in CLASS_NAMES])
    described = {"data_dir": str(data_dir), "part": f"{part}, whole photos through the bot's path",
                 "photos": len(items), "no_face_share": refused / len(items) if items else math.nan,
                 "unusable_share": unusable / len(items) if items else math.nan}
    if not rows:
        return {**described, "count": 0}
    result = metrics.summary(np.array(labels), np.array(rows), predictor.threshold)
    return {**result, **described, "unsure_share": 1 - result["coverage"]}


def own_split(model_dir: Path, data_fingerprint: str) -> Split | None:
    """The model's fixed split of the data folder with this fingerprint, if it trained on it."""
    for path in sorted(Path(model_dir).glob("split*.json")):
        split = Split.load(path)
        if split.data_fingerprint == data_fingerprint:
            return split
    return None


def format_scores(name: str, scores: dict) -> str:
    """The report's confusion matrix and classification report, plus the scores it lacked."""
    lines = [f"== {name} ({scores['part']}, {scores['count']} images)"]
    if not scores["count"]:
        lines.append(f"refused as no face found {scores['no_face_share']:.3f}: nothing to score")
        return "\n".join(lines)
    matrix = np.asarray(scores["confusion_matrix"])
    width = max(len(c) for c in CLASS_NAMES) + 2
    lines.append("confusion matrix (rows: true, columns: predicted)")
    lines.append(" " * width + "".join(f"{c[:12]:>14}" for c in CLASS_NAMES))
    for name_row, row in zip(CLASS_NAMES, matrix, strict=True):
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
    if "coverage" in scores:
        lines.append(f"confident answers {scores['coverage']:.3f}, of which right {scores['confident_accuracy']:.4f}")
    if "no_face_share" in scores:
        lines.append(f"refused as no face found {scores['no_face_share']:.3f}, "
                     f"as too small or unreadable {scores['unusable_share']:.3f}")
    return "\n".join(lines)


def default_cache_dir() -> Path:
    return Path(os.environ.get("MASKBOT_CACHE", ".cache"))
