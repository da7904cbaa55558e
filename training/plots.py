"""Training-curve and confusion-matrix pictures for a model folder (matplotlib, no display)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from model import CLASS_NAMES


def training_curves(history: dict[str, list[float]], path: Path) -> None:
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    for key, axis in (("loss", loss_axis), ("acc", accuracy_axis)):
        for prefix, style in (("", "-"), ("val_", "--")):
            if f"{prefix}{key}" in history:
                axis.plot(epochs, history[f"{prefix}{key}"], style, label=f"{'validation' if prefix else 'training'}")
        axis.set_xlabel("epoch")
        axis.set_title("loss" if key == "loss" else "accuracy")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def confusion(matrix: np.ndarray | list, path: Path, title: str) -> None:
    matrix = np.asarray(matrix)
    figure, axis = plt.subplots(figsize=(5.2, 4.6))
    axis.imshow(matrix, cmap="Blues")
    names = [name.replace("_", " ") for name in CLASS_NAMES[: len(matrix)]]
    axis.set_xticks(range(len(names)), names, rotation=20)
    axis.set_yticks(range(len(names)), names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title)
    threshold = matrix.max() / 2 if matrix.size else 0
    for (row, column), value in np.ndenumerate(matrix):
        axis.text(column, row, str(value), ha="center", va="center", color="white" if value > threshold else "black")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
