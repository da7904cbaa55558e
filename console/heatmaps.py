"""The review page's heat maps: where the current champion looks on a shared crop, drawn as the
bot draws its "Why?" picture (`model.explain`), so operators see what the model saw when they
accept a correction. Served from the champion's `model.onnx`: the console needs no TensorFlow."""

from __future__ import annotations

import threading
from pathlib import Path

from model import CLASS_NAMES, IMAGE_SIZE, ONNX_FILE
from model.explain import draw, evidence
from model.images import ImageError, decode_image
from model.predictor import Forward, load_network
from model.preprocess import resize, to_input
from model.registry import active_model_dir


class NoHeatMap(Exception):
    """The champion cannot draw one: no `model.onnx`, or one exported without class maps."""


class HeatMaps:
    """The champion's network, loaded on the first heat map and again when the champion changes
    (one at a time: a console's memory holds one network)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: tuple[Path, Forward] | None = None

    def network(self, model_dir: Path) -> Forward:
        """The network answering now: `model_dir` itself when it is one model folder, else its
        registry's champion. Raises RegistryError when the registry has no champion."""
        champion = active_model_dir(model_dir, seed=False)
        if not (champion / ONNX_FILE).exists():
            raise NoHeatMap(f"{champion.name} has no {ONNX_FILE}: run maskbot models export {champion}")
        with self._lock:
            if self._loaded is None or self._loaded[0] != champion:
                self._loaded = (champion, load_network(champion))
            return self._loaded[1]

    def draw(self, model_dir: Path, png: bytes, label: str | None = None) -> tuple[bytes, str]:
        """The crop (PNG) with the heat of `label`, else of the class the champion gives it; a
        JPEG, and the class drawn."""
        try:
            crop = resize(decode_image(png).pixels, IMAGE_SIZE)
        except ImageError as error:
            raise NoHeatMap("the stored crop does not decode") from error
        probabilities, maps = self.network(model_dir)(to_input(crop[None]))
        if maps is None:
            raise NoHeatMap("the champion's model.onnx was exported without class maps: run maskbot models export")
        shown = label or CLASS_NAMES[int(probabilities[0].argmax())]
        return draw(crop, evidence(maps[0], shown)), shown
