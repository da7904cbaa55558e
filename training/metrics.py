"""Scores from labels and probabilities, in plain NumPy so they are easy to check by hand."""

from __future__ import annotations

import itertools
import math

import numpy as np

from model import CLASS_NAMES
from model.calibration import apply_temperature

MASK_CLASSES = (0, 2)
"""with_mask and mask_weared_incorrect both mean "a mask is there" for mask-vs-no-mask accuracy."""
NO_MASK = 1


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: int = len(CLASS_NAMES)) -> np.ndarray:
    """Rows are true classes, columns predicted ones, as in the report."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return matrix


def classification_report(matrix: np.ndarray) -> dict:
    """Precision, recall, F1 and support per class present, with macro and weighted averages."""
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    correct = np.diag(matrix)
    per_class = {}
    for index, name in enumerate(CLASS_NAMES[: len(matrix)]):
        if support[index] == 0 and predicted[index] == 0:
            continue
        precision = correct[index] / predicted[index] if predicted[index] else 0.0
        recall = correct[index] / support[index] if support[index] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {
            "precision": float(precision),
            "recall": float(recall),
            "f1": float(f1),
            "support": int(support[index]),
        }
    present = [name for name, row in per_class.items() if row["support"] > 0]
    total = int(support.sum())
    report: dict[str, dict] = {"classes": per_class}
    for average in ("macro", "weighted"):
        weights = np.array(
            [1.0 if average == "macro" else per_class[name]["support"] for name in present], dtype=np.float64
        )
        weights = weights / weights.sum() if weights.sum() else weights
        averaged: dict[str, float] = {
            metric: float(sum(w * per_class[name][metric] for w, name in zip(weights, present, strict=True)))
            for metric in ("precision", "recall", "f1")
        }
        averaged["support"] = total
        report[average] = averaged
    return report


def balanced_accuracy(matrix: np.ndarray) -> float:
    """Mean recall over the classes that occur in the truth."""
    support = matrix.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(matrix)[present] / support[present])) if present.any() else math.nan


def accuracy(matrix: np.ndarray) -> float:
    total = matrix.sum()
    return float(np.trace(matrix) / total) if total else math.nan


def mask_vs_no_mask_accuracy(matrix: np.ndarray) -> float:
    """Accuracy of "is a mask there at all", counting an incorrect-mask answer as a mask."""
    total = matrix.sum()
    if not total:
        return math.nan
    mask = list(MASK_CLASSES)
    right = matrix[np.ix_(mask, mask)].sum() + matrix[NO_MASK, NO_MASK]
    return float(right / total)


def expected_calibration_error(probabilities: np.ndarray, y_true: np.ndarray, bins: int = 15) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(y_true)
    edges = np.linspace(0.0, 1.0, bins + 1)
    error = 0.0
    for low, high in itertools.pairwise(edges):
        in_bin = (confidence > low) & (confidence <= high)
        if in_bin.any():
            error += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(error)


def fit_temperature(probabilities: np.ndarray, y_true: np.ndarray) -> float:
    """The temperature that minimises negative log-likelihood on held-out data (golden section)."""
    y_true = np.asarray(y_true)

    def nll(log_temperature: float) -> float:
        scaled = apply_temperature(probabilities, math.exp(log_temperature))
        return float(-np.mean(np.log(np.clip(scaled[np.arange(len(y_true)), y_true], 1e-12, 1.0))))

    low, high = math.log(0.05), math.log(20.0)
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(60):
        a = high - ratio * (high - low)
        b = low + ratio * (high - low)
        if nll(a) < nll(b):
            high = b
        else:
            low = a
    return float(math.exp((low + high) / 2))


def f1_scores(y_true: np.ndarray, probabilities: np.ndarray) -> tuple[float, float]:
    """(macro-F1, the lowest per-class F1) over the classes in the truth: a verdict is scored by
    how often it is right when said (precision) as much as by how often it is found (recall)."""
    matrix = confusion_matrix(y_true, probabilities.argmax(axis=1), probabilities.shape[1])
    present = matrix.sum(axis=1) > 0
    correct = np.diag(matrix).astype(np.float64)
    said, truth = matrix.sum(axis=0), matrix.sum(axis=1)
    f1 = np.where(said + truth > 0, 2 * correct / np.maximum(said + truth, 1), 0.0)[present]
    return (float(f1.mean()), float(f1.min())) if present.any() else (math.nan, math.nan)


OFFSET_GRID = np.round(np.arange(-1.5, 1.51, 0.25), 2)
"""The logit offsets tried per class: a coarse grid, since validation holds few incorrect faces."""


def fit_class_offsets(probabilities: np.ndarray, y_true: np.ndarray, anchor: int = NO_MASK) -> np.ndarray:
    """Per-class logit offsets (the `anchor` class's stays 0) that maximise macro-F1 on held-out
    data, the lowest F1 breaking ties, then the smallest adjustment: a logit adjustment chosen for
    precision and recall together, where class-balanced training weights favour rare classes."""
    classes = probabilities.shape[1]
    free = [c for c in range(classes) if c != anchor]
    logits = np.log(np.clip(probabilities, 1e-12, 1.0))
    best: tuple[float, float, float] = (-1.0, -1.0, 0.0)
    best_offsets = np.zeros(classes, dtype=np.float32)
    for values in itertools.product(OFFSET_GRID, repeat=len(free)):
        offsets = np.zeros(classes, dtype=np.float32)
        offsets[free] = values
        macro, lowest = f1_scores(y_true, logits + offsets)
        score = (macro, lowest, -float(np.abs(offsets).sum()))
        if score > best:
            best, best_offsets = score, offsets
    return best_offsets


def choose_threshold(probabilities: np.ndarray, y_true: np.ndarray, target_accuracy: float = 0.97) -> float:
    """The lowest confidence above which held-out answers are at least `target_accuracy` right,
    kept within [0.5, 0.9] so the bot neither guesses wildly nor shrugs at everything."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(y_true)
    for hundredths in range(50, 91):
        threshold = hundredths / 100
        kept = confidence >= threshold
        if kept.any() and correct[kept].mean() >= target_accuracy:
            return threshold
    return 0.9


def coverage(probabilities: np.ndarray, y_true: np.ndarray, threshold: float) -> tuple[float, float]:
    """(share of answers at or above the threshold, accuracy of those answers): what a user sees
    as confident answers and how often they are right."""
    confident = probabilities.max(axis=1) >= threshold
    correct = probabilities.argmax(axis=1) == np.asarray(y_true)
    return float(confident.mean()) if len(confident) else math.nan, float(
        correct[confident].mean()
    ) if confident.any() else math.nan


def summary(y_true: np.ndarray, probabilities: np.ndarray, threshold: float | None = None) -> dict:
    """Every score the model card and the retraining gate use, for one labelled set; with the
    *Not sure* threshold, also the coverage and the accuracy of confident answers."""
    y_pred = probabilities.argmax(axis=1)
    matrix = confusion_matrix(y_true, y_pred)
    confident = {}
    if threshold is not None:
        share, right = coverage(probabilities, y_true, threshold)
        confident = {"coverage": share, "confident_accuracy": right}
    report = classification_report(matrix)
    return {
        **confident,
        "count": len(y_true),
        "macro_f1": report["macro"]["f1"],
        **bare_face_errors(matrix),
        "accuracy": accuracy(matrix),
        "balanced_accuracy": balanced_accuracy(matrix),
        "mask_vs_no_mask_accuracy": mask_vs_no_mask_accuracy(matrix),
        "expected_calibration_error": expected_calibration_error(probabilities, y_true),
        "confusion_matrix": matrix.tolist(),
        "report": report,
    }


INCORRECT = CLASS_NAMES.index("mask_weared_incorrect")
WITH_MASK = CLASS_NAMES.index("with_mask")


def bare_face_errors(matrix: np.ndarray) -> dict:
    """How often a bare face is told it wears a mask wrong, or wears one: the errors a person
    without a mask feels most. Empty when the truth holds no bare face."""
    bare = int(matrix[NO_MASK].sum())
    if not bare:
        return {}
    return {
        "bare_faces": bare,
        "bare_called_incorrect": int(matrix[NO_MASK, INCORRECT]),
        "bare_called_incorrect_share": float(matrix[NO_MASK, INCORRECT] / bare),
        "bare_called_mask_on": int(matrix[NO_MASK, WITH_MASK]),
        "bare_called_mask_on_share": float(matrix[NO_MASK, WITH_MASK] / bare),
    }
