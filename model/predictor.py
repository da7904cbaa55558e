"""Inference: a model folder loaded once, warmed up, safe to call from many threads.

The network is served by ONNX Runtime from the folder's `model.onnx` (written by `training.export`,
which also serves the Keras copy for comparisons): no TensorFlow in the bot's process. With the
verdicts come the network's class activation maps, when the served model gives them: what "Why?"
draws (`model.explain`).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model import CLASS_NAMES, IMAGE_SIZE, INPUT_NAME, METADATA_FILE, ONNX_FILE
from model.calibration import calibrate, offsets_of
from model.faces import LANDMARK_NAMES, FaceBox, FaceDetector
from model.framing import Framing, analyse, measure_light_and_focus
from model.images import ImageError, decode_image
from model.messages import N_, Message
from model.preprocess import crop_square, square_around, squash, to_input

DECODE_SIDE = 512
"""Photos are decoded at no less than this on each side: a face that fills a tenth of the frame
still spans the classifier's 128 pixels, and big JPEGs decode at 1/2 to 1/8 scale."""


MIN_FACE_SIDE = 24
"""Of several faces in a photo, those with a shorter side (in the photo's pixels) are too small to
judge: counted, not guessed. A photo's only face is judged whatever its size."""
MAX_FACES = 20
"""At most this many faces of one photo are judged, the largest first."""
MAIN_FACE_RATIO = 3.0
"""A face this many times wider than every other face is the photo's subject (`PhotoPrediction.main_face`).
Measured on ilc3's 512 group photos: the largest face is at most 3.0 times the next in all but 6 (4.2
at most), and each of those 6 shows one person in front with others far behind; at 2.5, a crowded
bus (2.7) would lose its group answer."""
GROUP_SEARCH_SIDE = 640
SMALL_FACE_SHARE = 0.15
"""A face under this share of the photo's longest side may be one of many: see `find_faces`.
Measured on ilc3's 512 group photos (2,101 labelled faces), faces found at IoU >= 0.4: 76 % when
searched at 320 px, 92 % at 640 px, for 7 against 20 ms a photo."""


class NoFaceFound(ImageError):
    """No face in the photo: the bot says so (with `framing.tips`) instead of judging the centre
    of the picture."""

    def __init__(self, framing: Framing, message: Message | None = None) -> None:
        super().__init__(
            message
            or Message(
                N_(
                    "I can't find a face in this photo. Send a photo with your whole face in the frame, looking at the camera."
                )
            )
        )
        self.framing = framing


class FacesTooSmall(NoFaceFound):
    """Several faces, every one too small to judge."""

    def __init__(self, framing: Framing, count: int) -> None:
        template = N_(
            "I can see {count} faces, but too small to judge. "
            "Move closer, or send the original photo rather than a thumbnail."
        )
        super().__init__(framing, Message(template, {"count": count}))
        self.count = count


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
    class_maps: np.ndarray | None = field(default=None, repr=False, compare=False)
    """(h, w, classes): the crop's class activation maps (`model.explain`); None when the served
    network gives none."""
    crop_landmarks: tuple[tuple[float, float], ...] = ()
    """The face's landmarks in the crop's pixels: where `model.explain` finds eyes, nose and mouth."""

    @property
    def explainable(self) -> bool:
        """Can "Why?" be answered: maps to draw, landmarks to name the region by."""
        return self.class_maps is not None and len(self.crop_landmarks) == len(LANDMARK_NAMES)

    def as_dict(self) -> dict:
        return {
            "label": self.label,
            "confidence": self.confidence,
            "probabilities": self.probabilities,
            "unsure": self.unsure,
            "framing": self.framing.as_dict(),
            "tips": [str(tip) for tip in self.framing.tips],
            "model_version": self.model_version,
            "latency_ms": self.latency_ms,
            "face": None
            if self.face is None
            else {
                "x": self.face.x,
                "y": self.face.y,
                "width": self.face.width,
                "height": self.face.height,
                "score": round(self.face.score, 4),
                "landmarks": {
                    name: [round(x, 1), round(y, 1)]
                    for name, (x, y) in zip(LANDMARK_NAMES, self.face.landmarks, strict=True)
                },
            },
        }


@dataclass(frozen=True)
class PhotoPrediction:
    """The verdicts on one photo: a `Prediction` per judged face, largest first."""

    faces: tuple[Prediction, ...]
    too_small: tuple[FaceBox, ...]
    """Faces found but too small to judge, in the photo's pixels."""
    not_checked: int
    """Faces big enough to judge beyond MAX_FACES."""
    pixels: np.ndarray = field(repr=False, compare=False)
    """The decoded photo (perhaps at reduced scale), upright RGB: what an annotated copy is drawn on."""
    width: int
    height: int
    """The photo's own size; face boxes are in these pixels."""

    @property
    def main_face(self) -> bool:
        """Whether one face is the photo's subject: the largest, at least MAIN_FACE_RATIO times
        every other face found (judged or not). A selfie with strangers far behind is answered
        about its sender's face."""
        others = [p.face.side for p in self.faces[1:] if p.face is not None] + [f.side for f in self.too_small]
        largest = self.faces[0].face
        if not others or largest is None:
            return len(self.faces) == 1
        return largest.side >= MAIN_FACE_RATIO * max(others)

    @property
    def background(self) -> int:
        """The other people seen beside a main face: judged, too small or beyond MAX_FACES."""
        return len(self.faces) - 1 + len(self.too_small) + self.not_checked

    @property
    def is_group(self) -> bool:
        """Answered face by face, with the annotated picture: two faces or more, none the main one."""
        return len(self.faces) >= 2 and not self.main_face


Forward = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]
"""Float32 pixels in; the softmax and the class activation maps (None without them) out."""


def _onnx_forward(path: Path) -> Forward:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    # One thread a call: the bot classifies on two worker threads at once.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        outputs = session.run(None, {INPUT_NAME: pixels})
        # Files exported before the maps were added have the softmax only: they serve without "Why?".
        return outputs[0], outputs[1] if len(outputs) > 1 else None

    return run


def load_network(model_dir: Path) -> Forward:
    """A model folder's network as it is served: its `model.onnx`, run by ONNX Runtime."""
    served = model_dir / ONNX_FILE
    if not served.exists():
        raise FileNotFoundError(f"{model_dir} has no {ONNX_FILE}: write it with `maskbot models export {model_dir}`")
    return _onnx_forward(served)


def read_metadata(model_dir: Path | str) -> dict:
    path = Path(model_dir) / METADATA_FILE
    if not path.exists():
        raise FileNotFoundError(f"{model_dir} is not a model folder (no metadata.json)")
    return json.loads(path.read_text())


class Predictor:
    """Loads a model folder (`metadata.json` and the network) and classifies photos.

    The network is served from `model.onnx` by ONNX Runtime, without TensorFlow, unless `network`
    names another runtime and its forward pass (as `training.export.keras_predictor` does)."""

    def __init__(self, model_dir: Path | str, warm_up: bool = True, network: tuple[str, Forward] | None = None) -> None:
        self.model_dir = Path(model_dir)
        self.metadata = read_metadata(self.model_dir)
        self.version = str(self.metadata["version"])
        self.temperature = float(self.metadata.get("temperature", 1.0))
        self.class_offsets = offsets_of(self.metadata, CLASS_NAMES)
        self.threshold = float(self.metadata.get("threshold", 0.0))
        self.preprocessing = self.metadata.get("preprocessing", "face_crop")
        self.runtime, self._forward = network or ("onnx", load_network(self.model_dir))
        self.detector = FaceDetector()
        # Both cores for the larger search: it is rare, and a group photo's answer waits on it.
        self.group_detector = FaceDetector(side=GROUP_SEARCH_SIDE, threads=2)
        if warm_up:
            self.probabilities(np.zeros((1, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8))

    @functools.cached_property
    def gives_maps(self) -> bool:
        """Whether the served network gives class activation maps: whether "Why?" can be answered."""
        return self.classify(np.zeros((1, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8))[1] is not None

    def probabilities(self, pixels_uint8: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities for a batch of prepared 128x128 uint8 images."""
        return self.classify(pixels_uint8)[0]

    def classify(self, pixels_uint8: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """`probabilities` and the batch's class activation maps, (batch, h, w, classes), or None
        when the served network gives none. Calibration leaves the maps alone: the temperature
        divides every logit alike and an offset shifts a class's logit everywhere at once, so
        neither moves where a class's evidence lies."""
        raw, maps = self._forward(to_input(pixels_uint8))
        return calibrate(raw, self.temperature, self.class_offsets), maps

    def predict(self, image: bytes | Path | str) -> Prediction:
        """The verdict on the largest face of a photo (see `predict_photo`); raises
        `model.images.ImageError` on bad input and its subclass `NoFaceFound` when no face is
        in the photo, or none big enough to judge."""
        return self.predict_photo(image).faces[0]

    def predict_photo(self, image: bytes | Path | str) -> PhotoPrediction:
        """Decode, find every face, and classify the judged ones in one batch.

        Faces are taken largest first, at most MAX_FACES; faces under MIN_FACE_SIDE pixels are
        counted as too small instead of guessed. Raises `model.images.ImageError` on bad input and
        `NoFaceFound` (or its `FacesTooSmall`) when there is nothing to judge."""
        started = time.perf_counter()
        decoded = decode_image(image, max_side=DECODE_SIDE)
        rgb = decoded.pixels
        size = (decoded.width, decoded.height)
        factor = decoded.width / rgb.shape[1]
        light = measure_light_and_focus(rgb)
        if self.preprocessing == "squash":  # the report's baseline judges the whole photo
            pixels = squash(rgb)
            row = self.probabilities(pixels[None])[0]
            prediction = self._prediction(row, pixels, analyse(rgb, None, size, light), started, None)
            return PhotoPrediction((prediction,), (), 0, rgb, decoded.width, decoded.height)
        found = self.find_faces(rgb)
        # The only face of a photo is judged whatever its size, as it always was; among several,
        # the tiny ones are counted instead of guessed.
        judged = [face for face in found if face.side * factor >= MIN_FACE_SIDE or len(found) == 1]
        too_small = tuple(face.scaled(factor) for face in found if face not in judged)
        if not judged:
            framing = analyse(rgb, None, size, light)
            raise FacesTooSmall(framing, len(too_small)) if too_small else NoFaceFound(framing)
        chosen = judged[:MAX_FACES]
        crops = np.stack([crop_square(rgb, face) for face in chosen])
        rows, maps = self.classify(crops)
        predictions = tuple(
            self._prediction(
                row,
                crop,
                analyse(rgb, face, size, light),
                started,
                face.scaled(factor),
                None if maps is None else maps[index],
                landmarks_in_crop(rgb, face),
            )
            for index, (row, crop, face) in enumerate(zip(rows, crops, chosen, strict=True))
        )
        return PhotoPrediction(predictions, too_small, len(judged) - len(chosen), rgb, decoded.width, decoded.height)

    def find_faces(self, rgb: np.ndarray) -> list[FaceBox]:
        """Every face, largest first. A photo that shows two or more faces, one small face or none
        (after the detector's close-up searches) is searched again at GROUP_SEARCH_SIDE, where the
        faces of a group photo are still found."""
        found = self.detector.faces(rgb)
        if len(found) != 1 or found[0].side < SMALL_FACE_SHARE * max(rgb.shape[:2]):
            closer = self.group_detector.search(rgb)
            if len(closer) >= len(found):
                found = closer
        return found

    def _prediction(
        self,
        row: np.ndarray,
        pixels: np.ndarray,
        framing: Framing,
        started: float,
        face: FaceBox | None,
        class_maps: np.ndarray | None = None,
        crop_landmarks: tuple[tuple[float, float], ...] = (),
    ) -> Prediction:
        best = int(row.argmax())
        return Prediction(
            label=CLASS_NAMES[best],
            confidence=float(row[best]),
            probabilities={name: float(value) for name, value in zip(CLASS_NAMES, row, strict=True)},
            unsure=bool(row[best] < self.threshold),
            framing=framing,
            model_version=self.version,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            pixels=pixels,
            face=face,
            class_maps=class_maps,
            crop_landmarks=crop_landmarks,
        )


def landmarks_in_crop(rgb: np.ndarray, face: FaceBox, size: int = IMAGE_SIZE) -> tuple[tuple[float, float], ...]:
    """The face's landmarks (in `rgb`'s pixels) in the pixels of its `crop_square`."""
    x, y, side = square_around(rgb, face)
    scale = size / side
    return tuple(((px - x) * scale, (py - y) * scale) for px, py in face.landmarks)
