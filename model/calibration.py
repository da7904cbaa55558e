"""Calibration when answering: the temperature a model folder's training fitted
(`training.metrics.fit_temperature`), applied to what its network says."""

from __future__ import annotations

import numpy as np


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax of log-probabilities divided by the temperature (1.0 leaves them as they are)."""
    logits = np.log(np.clip(probabilities, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=-1, keepdims=True)
