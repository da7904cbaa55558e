"""Calibration when answering: the temperature and the per-class offsets a model folder's training
fitted (`training.metrics.fit_temperature`, `training.metrics.fit_class_offsets`), applied to what
its network says."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax of log-probabilities divided by the temperature (1.0 leaves them as they are)."""
    return calibrate(probabilities, temperature, None)


def calibrate(probabilities: np.ndarray, temperature: float, offsets: np.ndarray | None) -> np.ndarray:
    """`apply_temperature`, then `offsets` added to the scaled logits: a logit adjustment that
    moves the borders between classes (a class the training over-weighted is said less often)
    without touching how sure the network is inside one class."""
    logits = np.log(np.clip(probabilities, 1e-12, 1.0)) / temperature
    if offsets is not None:
        logits = logits + offsets
    logits -= logits.max(axis=-1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=-1, keepdims=True)


def offsets_of(metadata: Mapping, class_names: Sequence[str]) -> np.ndarray | None:
    """A model folder's `class_offsets` (by class name) in the network's class order, or None
    for the models trained before offsets existed (v1 to v3)."""
    named = metadata.get("class_offsets")
    if not named:
        return None
    return np.array([float(named.get(name, 0.0)) for name in class_names], dtype=np.float32)
