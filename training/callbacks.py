"""Training callbacks: how the pretrained recipe picks its epoch."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from training.architectures import predict_array
from training.metrics import f1_scores
from training.runtime import import_tensorflow

import_tensorflow()
import keras  # noqa: E402 (after the quiet import above)


class BestEpoch(keras.callbacks.Callback):
    """Scores every epoch on real validation crops and keeps the weights of the best by macro-F1
    (the lowest per-class F1 breaks ties); `restore` puts them back and returns the scores for
    the history.

    F1, not recall: v3 kept the epoch with the highest lowest recall, and that rule rewards an
    epoch that says *worn incorrectly* often, to bare faces too (its precision on real group
    photos was 0.33). The validation crops hold bare faces of every kind for the same reason."""

    def __init__(self, pixels: np.ndarray, labels: np.ndarray, say: Callable[[str], None]) -> None:
        super().__init__()
        self.pixels, self.labels, self.say = pixels, labels, say
        self.best: tuple[float, float] = (-1.0, -1.0)
        self.best_epoch = 0
        self.best_weights: list[np.ndarray] = []
        self.scores: list[tuple[float, float]] = []

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        score = f1_scores(self.labels, predict_array(self.model, self.pixels))
        self.scores.append(score)
        if score > self.best:
            self.best, self.best_epoch, self.best_weights = score, epoch, self.model.get_weights()
        self.say(f"  epoch {epoch + 1}: real validation macro-F1 {score[0]:.4f}, lowest F1 {score[1]:.4f}")

    def restore(self, network: keras.Model) -> dict[str, list[float]]:
        network.set_weights(self.best_weights)
        self.say(f"kept epoch {self.best_epoch + 1}")
        return {
            "val_macro_f1": [score[0] for score in self.scores],
            "val_lowest_f1": [score[1] for score in self.scores],
            "chosen_epoch": [float(self.best_epoch + 1)],
        }
