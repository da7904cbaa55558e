"""The "Why?" button: where the network looked on a face crop, as a picture and as the region it names.

The served networks end in global average pooling and one softmax layer, so their class
activation maps are exact: a class's logit is the mean of its map plus the class's bias, and
`training.export` makes the ONNX model return the maps beside the probabilities. Nothing here needs
TensorFlow or OpenCV; a picture costs a few milliseconds of NumPy and Pillow (docs/model.md, "Why?").
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from model import CLASS_NAMES, IMAGE_SIZE
from model.faces import LANDMARK_NAMES

if TYPE_CHECKING:
    from model.predictor import PhotoPrediction

REGIONS = ("nose_and_mouth", "nose", "mouth", "chin", "eyes", "outside")
"""What a sentence can name. The first four are where a mask sits or should sit: evidence about
the mask. "eyes" (eyes and forehead) and "outside" (cheeks' edges, hair, background) are not."""
MASK_REGIONS = frozenset(REGIONS[:4])
ZONES = ("eyes", "nose", "mouth", "chin")
"""Bands across the face, top to bottom, measured along the line from the eyes to the mouth (see
`FaceCoordinates.zone`); whatever lies outside them is "outside"."""
PICTURE_SIDE = 384
"""The picture is the 128-pixel crop drawn three times larger: big enough to see on a phone, and
about 15 KB as a JPEG."""
JPEG_QUALITY = 85
OVERLAY = 0.6
"""How opaque the colour is where the heat is highest; where there is none, the crop shows as it is."""
HOT_SHARE = 0.5
"""Pixels with at least this share of the hottest one's heat are where the network "looked"."""
PAIR_SHARE = 0.5
"""Nose and mouth are named together when the hot part's heat in the one of them that holds less
is at least this share of its heat in the other."""


_LEVELS = np.arange(256)
JET = np.clip(
    np.stack(
        [
            np.minimum(4 * _LEVELS - 382, 1148 - 4 * _LEVELS),
            np.minimum(4 * _LEVELS - 128, 892 - 4 * _LEVELS),
            np.minimum(4 * _LEVELS + 128, 638 - 4 * _LEVELS),
        ],
        axis=1,
    ),
    0,
    255,
).astype(np.uint8)
"""The "jet" colour map, RGB by heat level 0-255: dark blue, blue, cyan, yellow, red, dark red.
OpenCV's COLORMAP_JET, but for one level of blue at level 159."""


@dataclass(frozen=True)
class Explanation:
    picture: bytes
    """The crop with the heat map over it, a JPEG."""
    region: str
    """One of REGIONS: where the heat mostly falls."""


def evidence(class_maps: np.ndarray, label: str) -> np.ndarray:
    """The map of what speaks for `label` against the other classes, (h, w).

    Softmax answers to differences between logits, so the evidence for a class is its map minus
    the mean of the others' (each logit is the mean of its map plus a bias): the features that
    every class weighs alike, the face as such, cancel out."""
    chosen = CLASS_NAMES.index(label)
    others = np.delete(class_maps, chosen, axis=-1)
    return class_maps[..., chosen] - others.mean(axis=-1)


def upsample(heat: np.ndarray, side: int) -> np.ndarray:
    """The coarse map (4x4 for 128-pixel crops) on the crop's pixels; bicubic, so its peak can
    fall between the network's cells. OpenCV's INTER_CUBIC (Keys' kernel with a = -0.75, edges
    repeated), which named the regions measured in docs/model.md, as two small matrix products."""
    rows, columns = heat.shape
    across = heat.astype(np.float32) @ _cubic_weights(columns, side).T  # along x first, as OpenCV
    return (_cubic_weights(rows, side) @ across).astype(np.float32)


@functools.lru_cache(maxsize=16)
def _cubic_weights(source: int, size: int) -> np.ndarray:
    """(size, source): output pixel i is the sum of these weights times the source pixels."""
    where = ((np.arange(size) + 0.5) * (1 / (size / source)) - 0.5).astype(np.float32)
    position = np.floor(where)
    t = where - position
    a = np.float32(-0.75)  # OpenCV's interpolateCubic, in 32-bit floats as there
    first = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a
    second = ((a + 2) * t - (a + 3)) * t * t + 1
    third = ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1
    weights = np.stack([first, second, third, 1 - first - second - third], axis=1)
    matrix = np.zeros((size, source), dtype=np.float32)
    for tap in range(4):
        # Taps beyond an edge take the edge pixel (OpenCV's resize repeats it).
        np.add.at(
            matrix, (np.arange(size), np.clip(position.astype(np.intp) - 1 + tap, 0, source - 1)), weights[:, tap]
        )
    return matrix


@dataclass(frozen=True)
class FaceCoordinates:
    """Where each pixel of the crop lies on the face: measured from the eyes' midpoint in units of
    the eyes-to-mouth distance, `along` that line (0 at the eyes, 1 at the mouth) and `across` it,
    so a tilted or turned face gets tilted bands."""

    along: np.ndarray
    across: np.ndarray
    nose: float
    """The nose tip's `along`."""

    @classmethod
    def of(cls, landmarks: tuple[tuple[float, float], ...], side: int = IMAGE_SIZE) -> FaceCoordinates:
        points = {
            name: np.asarray(point, dtype=np.float64) for name, point in zip(LANDMARK_NAMES, landmarks, strict=True)
        }
        eyes = (points["right_eye"] + points["left_eye"]) / 2
        mouth = (points["right_mouth"] + points["left_mouth"]) / 2
        length = max(float(np.linalg.norm(mouth - eyes)), 1.0)
        down = (mouth - eyes) / length
        across = np.array([-down[1], down[0]])
        ys, xs = np.mgrid[0:side, 0:side] + 0.5
        offsets = np.stack([xs - eyes[0], ys - eyes[1]], axis=-1)
        # Kept between eyes and mouth, so the bands stay in order whatever the landmarks say.
        nose = float(np.clip((points["nose"] - eyes) @ down / length, 0.1, 0.9))
        return cls(offsets @ down / length, offsets @ across / length, nose)

    def zone(self, along: float | np.ndarray, across: float | np.ndarray) -> np.ndarray:
        """Indices into ZONES, -1 outside the face. The eyes (and forehead) end a third of the way
        to the nose tip, below the lower eyelids; the nose ends halfway between its tip and the
        mouth; the mouth a third below the mouth corners; then the chin. The face is taken to be
        two units wide."""
        bounds = np.array([self.nose / 3, (self.nose + 1) / 2, 1.35])
        zones = np.searchsorted(bounds, along, side="right")
        return np.where((np.asarray(along) >= -0.9) & (np.asarray(along) < 2.0) & (np.abs(across) <= 1.0), zones, -1)


def region(heat: np.ndarray, landmarks: tuple[tuple[float, float], ...]) -> str:
    """Where `heat` (on the crop's pixels) mostly falls, named as one of REGIONS: the zone of the
    middle of its hot part (weighed by heat), or nose and mouth together when the hot part reaches
    well into both. The middle, not the heat in each zone: the zones differ in size, and a broad
    blob would otherwise always land in the largest."""
    face = FaceCoordinates.of(landmarks, heat.shape[0])
    peak = float(heat.max())
    # With no heat above zero (nothing speaks for the class more than for the others), the least
    # negative pixels stand in for the hottest.
    weights = np.where(heat >= HOT_SHARE * peak, heat, 0.0) if peak > 0 else (heat == peak).astype(np.float64)
    total = weights.sum()
    middle = int(face.zone((face.along * weights).sum() / total, (face.across * weights).sum() / total))
    if middle < 0:
        return "outside"
    name = ZONES[middle]
    zones = face.zone(face.along, face.across)
    nose, mouth = (weights[zones == ZONES.index(zone)].sum() for zone in ("nose", "mouth"))
    if name in ("nose", "mouth") and min(nose, mouth) >= PAIR_SHARE * max(nose, mouth):
        return "nose_and_mouth"
    return name


def draw(pixels: np.ndarray, heat: np.ndarray, side: int = PICTURE_SIDE) -> bytes:
    """The crop (RGB uint8) coloured by `heat` where it is positive, enlarged to `side`; a JPEG.

    Coloured at the crop's own size, then enlarged: the crop holds no finer detail and the heat is
    smooth, so the picture is the same for a ninth of the work."""
    level = upsample(heat, pixels.shape[0])
    # Scaled by the strongest heat either way: where nothing speaks for the class, the bicubic
    # ripples around evidence against it stay faint instead of being stretched to full colour.
    strongest = float(np.abs(level).max())
    level = np.clip(level / strongest, 0.0, 1.0) if strongest > 0 else np.zeros_like(level)
    colours = JET[np.round(level * 255).astype(np.uint8)]
    alpha = (OVERLAY * level)[..., None]
    blended = np.round(pixels * (1 - alpha) + colours * alpha).astype(np.uint8)
    # Pillow's bicubic (a = -0.5) is a shade softer than OpenCV's (a = -0.75): the same picture to
    # the eye, and it names no region (`upsample` does that).
    enlarged = Image.fromarray(blended).resize((side, side), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    enlarged.save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def explain(
    pixels: np.ndarray, class_maps: np.ndarray, label: str, landmarks: tuple[tuple[float, float], ...]
) -> Explanation:
    """The "Why?" of one verdict: the crop's picture with the heat of `label`, and its region."""
    heat = evidence(class_maps, label)
    return Explanation(draw(pixels, heat), region(upsample(heat, pixels.shape[0]), landmarks))


SAME_FACE_TOLERANCE = 0.25
"""How far a face's size (over the photo's longest side) may differ, judged again, from what was
recorded before it counts as another face: a newer model may find the faces a little differently."""


def explain_again(photo: PhotoPrediction, number: int, face_share: float | None, label: str) -> Explanation | None:
    """The "Why?" of a verdict given earlier, from its photo judged again: face `number` (largest
    first, as in the answer) explained for `label`, the answer the user saw. Judging is
    deterministic for the same bytes and model, so it is the same face; after a change of model it
    is checked by its size (`face_share`, its side over the photo's longest, as recorded). None
    when that face is not found again or cannot be explained (a model without maps)."""
    if not 1 <= number <= len(photo.faces):
        return None
    face = photo.faces[number - 1]
    if face.class_maps is None or not face.explainable:
        return None
    if face_share is not None and face.face is not None:
        share = face.face.side / max(photo.width, photo.height)
        if abs(share - face_share) > SAME_FACE_TOLERANCE * face_share:
            return None
    return explain(face.pixels, face.class_maps, label, face.crop_landmarks)
