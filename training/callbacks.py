"""Training callbacks: how the pretrained recipe picks its epoch."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from training.runtime import import_tensorflow

import_tensorflow()
import keras  # noqa: E402 (after the quiet import above)


def lowest_recall(labels: np.ndarray, probabilities: np.ndarray) -> tuple[float, float]:
    """(the lowest per-class recall, balanced accuracy) over the classes present: the epoch rule.

    The epochs trade *incorrect* recall against bare-face recall, and real validation holds few
    incorrect faces (54 in ilc3's): the lowest recall guards both, balanced accuracy breaks ties."""
    predicted = probabilities.argmax(axis=1)
    recalls = [float(np.mean(predicted[labels == c] == c)) for c in np.unique(labels)]
    return min(recalls), float(np.mean(recalls))


class BestEpoch(keras.callbacks.Callback):
    """Scores every epoch on real validation crops and keeps the weights of the best by
    `lowest_recall`; `restore` puts them back and returns the scores for the history."""

    def __init__(self, pixels: np.ndarray, labels: np.ndarray, say: Callable[[str], None]) -> None:
        super().__init__()
        self.pixels, self.labels, self.say = pixels, labels, say
        self.best: tuple[float, float] = (-1.0, -1.0)
        self.best_epoch = 0
        self.best_weights: list[np.ndarray] = []
        self.scores: list[tuple[float, float]] = []

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        from training.train import predict_array

        score = lowest_recall(self.labels, predict_array(self.model, self.pixels))
        self.scores.append(score)
        if score > self.best:
            self.best, self.best_epoch, self.best_weights = score, epoch, self.model.get_weights()
        self.say(f"  epoch {epoch + 1}: real validation lowest recall {score[0]:.4f}, balanced {score[1]:.4f}")

    def restore(self, network: keras.Model) -> dict[str, list[float]]:
        network.set_weights(self.best_weights)
        self.say(f"kept epoch {self.best_epoch + 1}")
        return {
            "val_lowest_recall": [score[0] for score in self.scores],
            "val_balanced_accuracy": [score[1] for score in self.scores],
            "chosen_epoch": [float(self.best_epoch + 1)],
        }
