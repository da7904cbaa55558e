"""Inference: a model folder loaded once, warmed up, safe to call from many threads.

The fastest honest path measured by `maskbot bench` on a 2-core CPU is a `tf.function`
with a fixed input signature (no retracing) called directly, not `model.predict`, whose
per-call setup costs more than the network itself on a single image.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model import CLASS_NAMES, IMAGE_SIZE
from model.faces import LANDMARK_NAMES, FaceBox, FaceDetector
from model.framing import Framing, analyse
from model.images import ImageError, decode_image
from model.metrics import apply_temperature
from model.preprocess import crop_square, squash, to_input
from model.runtime import import_tensorflow

DECODE_SIDE = 512
"""Photos are decoded at no less than this on each side: a face that fills a tenth of the frame
still spans the classifier's 128 pixels, and big JPEGs decode at 1/2 to 1/8 scale."""


class NoFaceFound(ImageError):
    """No face in the photo: the bot says so instead of judging the centre of the picture."""

    def __init__(self, framing: Framing) -> None:
        self.framing = framing
        lines = ["I can't find a face in this photo. Send a photo with your whole face in the frame, "
                 "looking at the camera."]
        lines += [f"• {tip}" for tip in framing.tips]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    probabilities: dict[str, float]
    unsure: bool
    framing: Framing
    model_version: str
    latency_ms: float
    pixels: np.ndarray = field(repr=False, compare=False)
    """The 128x128 RGB crop the classifier saw: what a user may agree to share for retraining."""
    face: FaceBox | None = None
    """The face judged, in the photo's own (upright) pixels; None for models that judge the whole photo."""

    def as_dict(self) -> dict:
        return {
            "label": self.label,
            "confidence": self.confidence,
            "probabilities": self.probabilities,
            "unsure": self.unsure,
            "framing": self.framing.as_dict(),
            "tips": list(self.framing.tips),
            "model_version": self.model_version,
            "latency_ms": self.latency_ms,
            "face": None if self.face is None else {
                "x": self.face.x, "y": self.face.y, "width": self.face.width, "height": self.face.height,
                "score": round(self.face.score, 4),
                "landmarks": {name: [round(x, 1), round(y, 1)] for name, (x, y) in zip(LANDMARK_NAMES, self.face.landmarks, strict=True)},
            },
        }


def read_metadata(model_dir: Path | str) -> dict:
    path = Path(model_dir) / "metadata.json"
    if not path.exists():
        raise FileNotFoundError(f"{model_dir} is not a model folder (no metadata.json)")
    return json.loads(path.read_text())


class Predictor:
    """Loads `model.keras` and `metadata.json` from a model folder and classifies photos."""

    def __init__(self, model_dir: Path | str, warm_up: bool = True) -> None:
        import_tensorflow()
        import keras
        import tensorflow as tf

        self.model_dir = Path(model_dir)
        self.metadata = read_metadata(self.model_dir)
        self.version = str(self.metadata["version"])
        self.temperature = float(self.metadata.get("temperature", 1.0))
        self.threshold = float(self.metadata.get("threshold", 0.0))
        self.preprocessing = self.metadata.get("preprocessing", "face_crop")
        self.network = keras.saving.load_model(self.model_dir / "model.keras", compile=False)
        signature = [tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, 3], tf.float32)]
        self._forward = tf.function(lambda x: self.network(x, training=False), input_signature=signature)
        self.detector = FaceDetector()
        if warm_up:
            self.probabilities(np.zeros((1, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8))

    def probabilities(self, pixels_uint8: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities for a batch of prepared 128x128 uint8 images."""
        raw = self._forward(to_input(pixels_uint8)).numpy()
        return apply_temperature(raw, self.temperature)

    def prepare(self, rgb: np.ndarray) -> tuple[np.ndarray | None, FaceBox | None]:
        """The classifier input for one upright RGB photo and the face in it; (None, None) when a
        face-crop model finds no face. The report's baseline squashes the whole photo instead."""
        if self.preprocessing == "squash":
            return squash(rgb), None
        face = self.detector.largest_face(rgb)
        return (None, None) if face is None else (crop_square(rgb, face), face)

    def predict(self, image: bytes | Path | str) -> Prediction:
        """Decode, find the face, crop and classify; raises `model.images.ImageError` on bad input
        and its subclass `NoFaceFound` when no face is in the photo."""
        result = self.predict_many([image])[0]
        if isinstance(result, NoFaceFound):
            raise result
        return result

    def predict_many(self, images: list[bytes | Path | str]) -> list[Prediction | NoFaceFound]:
        """Like `predict` for several photos classified in one batch; a photo without a face gets
        its `NoFaceFound` in its place rather than stopping the others."""
        started = time.perf_counter()
        decoded = [decode_image(image, max_side=DECODE_SIDE) for image in images]
        prepared = [self.prepare(d.pixels) for d in decoded]
        with_face = [i for i, (pixels, _) in enumerate(prepared) if pixels is not None]
        probabilities = self.probabilities(np.stack([prepared[i][0] for i in with_face])) if with_face else []
        latency = (time.perf_counter() - started) * 1000 / max(len(images), 1)
        results: list[Prediction | NoFaceFound] = []
        rows = iter(probabilities)
        for image, (pixels, face) in zip(decoded, prepared, strict=True):
            size = (image.width, image.height)
            if pixels is None:
                results.append(NoFaceFound(analyse(image.pixels, None, size)))
                continue
            row = next(rows)
            sure = bool(row.max() >= self.threshold)
            framing = analyse(image.pixels, face, size)
            # The face in the photo's own pixels: big JPEGs are decoded at reduced scale.
            in_photo = face if face is None else face.scaled(image.width / image.pixels.shape[1])
            results.append(self._prediction(row, sure, pixels, framing, latency, in_photo))
        return results

    def _prediction(self, row: np.ndarray, sure: bool, pixels: np.ndarray, framing: Framing,
                    latency_ms: float, face: FaceBox | None) -> Prediction:
        best = int(row.argmax())
        return Prediction(
            label=CLASS_NAMES[best],
            confidence=float(row[best]),
            probabilities={name: float(value) for name, value in zip(CLASS_NAMES, row, strict=True)},
            unsure=not sure,
            framing=framing,
            model_version=self.version,
            latency_ms=round(latency_ms, 2),
            pixels=pixels,
            face=face,
        )
