"""Framing analysis: is there a face, how big, how central, how lit, how sharp; and the tips.

The tips are what the bot tells a person, so each one says what to do, not what is wrong.

Light and focus are measured with Pillow and NumPy as OpenCV measured them when the thresholds
below were set: grey by ITU-R BT.601 weights (Pillow's conversion, within one level of OpenCV's),
shrunk by area (`model.preprocess.resize_area`) and the variance of OpenCV's 3x3 Laplacian.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
from PIL import Image

from model.faces import FaceBox
from model.messages import N_, Message, Share
from model.preprocess import resize_area

SMALL_FACE_FRACTION = 0.04
"""A face box under 4 % of the frame is a face across a room: about 20 % of the width."""
OFF_CENTRE = 0.45
"""Face centre this far from the picture's centre, as a share of the half-diagonal."""
DARK, BRIGHT = 0.22, 0.85
"""Mean luminance bounds (0-1) outside which a face loses detail."""
LOW_CONTRAST = 0.07
BLURRY = 40.0
"""Variance of the Laplacian at 256 px: below this, edges of a mask and a nose smear together."""
SMALL_IMAGE = 160
MAX_TIPS = 3


@dataclass(frozen=True)
class Framing:
    width: int
    height: int
    face_found: bool
    face_fraction: float | None
    centre_offset: float | None
    brightness: float
    contrast: float
    sharpness: float
    tips: tuple[Message, ...]
    """What to do for a better photo: sentences the bot translates (`str()` is English)."""

    def as_dict(self) -> dict:
        return {**asdict(self), "tips": [str(tip) for tip in self.tips]}


def measure_light_and_focus(rgb: np.ndarray) -> tuple[float, float, float]:
    """(brightness, contrast, sharpness) on a 256 px grayscale copy, so photo size does not matter."""
    luma = grey(rgb)
    scale = 256 / max(luma.shape)
    if scale < 1:
        # Sized as OpenCV's `resize(fx=scale)` sizes it, averaged with its weights.
        luma = resize_area(luma, round(luma.shape[1] * scale), round(luma.shape[0] * scale), 1 / scale)
    normalised = luma.astype(np.float32) / 255.0
    return float(normalised.mean()), float(normalised.std()), laplacian_variance(luma)


def grey(rgb: np.ndarray) -> np.ndarray:
    """8-bit luma of an RGB uint8 picture: 0.299 R + 0.587 G + 0.114 B, rounded. Pillow's
    conversion (16-bit weights) is OpenCV's (15-bit) but for one level on about one pixel in
    100,000 of a photo, in half the time of the exact sum in NumPy."""
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).convert("L"))


def laplacian_variance(luma: np.ndarray) -> float:
    """How sharp a grey picture is: the variance of its Laplacian, the 3x3 kernel
    [[0, 1, 0], [1, -4, 1], [0, 1, 0]] with mirrored edges (what OpenCV's `Laplacian(grey, CV_64F)`
    computes, ksize 1 and BORDER_REFLECT_101: the same numbers, exactly)."""
    padded = np.pad(luma.astype(np.int32), 1, mode="reflect")
    centre = padded[1:-1, 1:-1]
    laplacian = padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:] - 4 * centre
    return float(laplacian.var())


def analyse(
    rgb: np.ndarray,
    face: FaceBox | None,
    original_size: tuple[int, int] | None = None,
    light: tuple[float, float, float] | None = None,
) -> Framing:
    """Framing facts of `rgb` (perhaps decoded at reduced scale from a photo of `original_size`)
    and the tips for them; `light` is `measure_light_and_focus(rgb)` when already measured."""
    height, width = rgb.shape[:2]
    brightness, contrast, sharpness = light or measure_light_and_focus(rgb)
    face_fraction = centre_offset = None
    if face is not None:
        face_fraction = face.area / float(width * height)
        centre_x, centre_y = face.centre
        half_diagonal = np.hypot(width, height) / 2
        centre_offset = float(np.hypot(centre_x - width / 2, centre_y - height / 2) / half_diagonal)
    photo_width, photo_height = original_size or (width, height)
    framing = Framing(
        photo_width, photo_height, face is not None, face_fraction, centre_offset, brightness, contrast, sharpness, ()
    )
    return replace(framing, tips=tips_for(framing))


def tips_for(framing: Framing) -> tuple[Message, ...]:
    """At most three tips, the ones that change the verdict most first. A photo without a face
    gets no verdict at all (`model.predictor.NoFaceFound` says so), so no tip is about that."""
    tips: list[Message] = []
    if framing.face_fraction is not None and framing.face_fraction < SMALL_FACE_FRACTION:
        tips.append(
            Message(
                N_("Move closer: your face fills only {share} of the photo."), {"share": Share(framing.face_fraction)}
            )
        )
    if framing.brightness < DARK:
        tips.append(Message(N_("It is too dark: face a window or a lamp.")))
    elif framing.brightness > BRIGHT:
        tips.append(Message(N_("It is too bright: step out of direct light or turn away from the window behind you.")))
    elif framing.contrast < LOW_CONTRAST:
        tips.append(Message(N_("The photo looks washed out: avoid strong light behind you.")))
    if framing.sharpness < BLURRY:
        tips.append(Message(N_("The photo is blurry: hold the phone still and tap your face to focus.")))
    if framing.centre_offset is not None and framing.centre_offset > OFF_CENTRE:
        tips.append(Message(N_("Put your face in the middle of the picture.")))
    if min(framing.width, framing.height) < SMALL_IMAGE:
        tips.append(
            Message(
                N_("The image is small ({size}): send the original photo, not a thumbnail."),
                {"size": f"{framing.width}x{framing.height}"},
            )
        )
    return tuple(tips[:MAX_TIPS])
