"""Drawn faces the face finder finds (score near 1): pictures with a face, and group photos,
that need no photo of a person.

`maskbot bench` times them, so they live in an installed package; the tests and the benchmarks
under bench/ draw their faces here too. Pillow and NumPy only, so that nothing that draws a face
needs OpenCV.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def drawn_face(background: np.ndarray, seed: int = 0, size: float = 0.5) -> np.ndarray:
    """`background` (RGB) with a face drawn in its middle: hair, ears, eyes, brows, nose and lips,
    the face's height about `size` of the short side."""
    rng = np.random.default_rng(seed)
    height, width = background.shape[:2]
    cx, cy = width // 2, height // 2
    half_width = int(min(width, height) * size * 0.38)
    half_height = int(half_width * 1.3)
    skin = (int(rng.integers(190, 235)), int(rng.integers(140, 180)), int(rng.integers(110, 150)))
    hair = (40, 30, 20)
    image = Image.fromarray(np.ascontiguousarray(background, dtype=np.uint8))
    draw = ImageDraw.Draw(image)

    def ellipse(x: int, y: int, radius_x: int, radius_y: int, colour: tuple[int, int, int]) -> None:
        draw.ellipse((x - radius_x, y - radius_y, x + radius_x, y + radius_y), fill=colour)

    hair_x, hair_y, hair_top = int(half_width * 1.1), int(half_height * 0.95), cy - half_height // 4
    draw.chord((cx - hair_x, hair_top - hair_y, cx + hair_x, hair_top + hair_y), 180, 360, fill=hair)
    ellipse(cx, cy, half_width, half_height, skin)
    for side in (-1, 1):
        ellipse(cx + side * (half_width + 4), cy, int(half_width * 0.15), int(half_height * 0.2), skin)
        eye_x, eye_y = cx + side * int(half_width * 0.42), cy - int(half_height * 0.15)
        ellipse(eye_x, eye_y, int(half_width * 0.22), int(half_height * 0.08), (245, 245, 245))
        iris, pupil = int(half_height * 0.07), int(half_height * 0.03)
        ellipse(eye_x, eye_y, iris, iris, (60, 40, 30))
        ellipse(eye_x, eye_y, pupil, pupil, (10, 10, 10))
        brow = (
            (eye_x - int(half_width * 0.25), eye_y - int(half_height * 0.16)),
            (eye_x + int(half_width * 0.25), eye_y - int(half_height * 0.19)),
        )
        draw.line(brow, fill=hair, width=max(3, half_height // 30 + 1))
    nose = [
        (cx, cy - int(half_height * 0.05)),
        (cx - int(half_width * 0.15), cy + int(half_height * 0.25)),
        (cx + int(half_width * 0.15), cy + int(half_height * 0.25)),
    ]
    draw.polygon(nose, fill=(int(skin[0] * 0.8), int(skin[1] * 0.8), int(skin[2] * 0.8)))
    ellipse(cx, cy + half_height // 2, int(half_width * 0.35), int(half_height * 0.09), (170, 60, 60))
    return np.asarray(image.filter(ImageFilter.GaussianBlur(1.2)))


def group_photo(faces: int = 10, size: tuple[int, int] = (1280, 960)) -> bytes:
    """A JPEG of `faces` drawn faces in two rows on a textured background, each face about a
    tenth of the photo's width."""
    columns = -(-faces // 2)
    width, height = size
    rng = np.random.default_rng(1)
    base = np.linspace(40, 200, width, dtype=np.float32)[None, :, None] + rng.normal(0, 18, (height, width, 3))
    canvas = np.clip(base, 0, 255).astype(np.uint8)
    tile_width, tile_height = width // columns, height // 2
    for index in range(faces):
        row, column = divmod(index, columns)
        top, left = row * tile_height, column * tile_width
        tile = canvas[top : top + tile_height, left : left + tile_width]
        canvas[top : top + tile_height, left : left + tile_width] = drawn_face(tile, seed=index, size=0.45)
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()
