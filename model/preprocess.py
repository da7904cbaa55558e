"""From a decoded photo to the classifier's 128x128 input.

Two recipes: the report's (squash the whole photo to a square, which distorts faces and shrinks
them in wide shots) and ours (a square around the face with some context, or the centre square
when no face is found, so a face keeps its shape and fills the input).
"""

from __future__ import annotations

import cv2
import numpy as np

from model import IMAGE_SIZE
from model.faces import FaceBox

FACE_MARGIN = 1.8
"""The crop is this many face-box sides wide: forehead to chin plus the mask's straps."""


def resize(rgb: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    shrinking = max(rgb.shape[:2]) > size
    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def squash(rgb: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """The report's preprocessing: the whole photo resized to a square, aspect ratio lost."""
    return resize(rgb, size)


def square_around(rgb: np.ndarray, box: FaceBox | None, margin: float = FACE_MARGIN) -> tuple[int, int, int]:
    """(x, y, side) of the square crop: around the face when there is one, else the centre."""
    height, width = rgb.shape[:2]
    if box is None:
        side = min(height, width)
        return (width - side) // 2, (height - side) // 2, side
    side = min(round(max(box.width, box.height) * margin), height, width)
    centre_x, centre_y = box.centre
    x = round(min(max(centre_x - side / 2, 0), width - side))
    y = round(min(max(centre_y - side / 2, 0), height - side))
    return x, y, side


def crop_square(
    rgb: np.ndarray, box: FaceBox | None, size: int = IMAGE_SIZE, margin: float = FACE_MARGIN
) -> np.ndarray:
    """Our preprocessing: the square around the face (or the centre), resized to `size`."""
    x, y, side = square_around(rgb, box, margin)
    return resize(rgb[y : y + side, x : x + side], size)


def to_input(batch_uint8: np.ndarray) -> np.ndarray:
    """uint8 pixels to the float32 [0, 1] tensor every model here takes, as the report did."""
    return batch_uint8.astype(np.float32) / 255.0
