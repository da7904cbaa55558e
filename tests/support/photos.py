"""Generated pictures: textured backgrounds, drawn faces the face finder finds, files that
decode huge, labelled folders small enough to train on in seconds."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from model import CLASS_NAMES
from training.drawn_faces import drawn_face


def encode(image: Image.Image, fmt: str = "JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def textured(width: int = 320, height: int = 240, seed: int = 0) -> Image.Image:
    """A textured RGB picture without a face: a realistic amount of detail to decode and crop."""
    rng = np.random.default_rng(seed)
    base = np.linspace(30, 220, width, dtype=np.float32)[None, :, None] + rng.normal(0, 20, (height, width, 3))
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))


def face_like(width: int = 320, height: int = 240, seed: int = 0, size: float = 0.5) -> Image.Image:
    """A drawn face in the middle of a textured picture (see `training.drawn_faces`): the face
    finder finds it, so photos made from it get a verdict."""
    return Image.fromarray(drawn_face(np.asarray(textured(width, height, seed)), seed, size))


def hostile_files():
    """Small files that decode into huge arrays (each reproduced from the hardening issue)."""
    side = 6300
    deep = Image.fromarray(np.full((side, side), 40000, dtype=np.uint16))  # 16-bit grey
    yield "16-bit png", encode(deep, "PNG", optimize=True)
    yield (
        "int32 tiff",
        encode(
            Image.fromarray(np.full((side, side), 70000, dtype=np.int32), "I"), "TIFF", compression="tiff_adobe_deflate"
        ),
    )
    yield "lossless rgba webp", encode(Image.new("RGBA", (side, side), (200, 10, 10, 128)), "WEBP", lossless=True)
    yield "8-bit png", encode(Image.new("RGB", (side, side), (30, 30, 30)), "PNG", optimize=True)
    palette = Image.new("P", (side, side), 1)
    palette.putpalette([0, 0, 0, 200, 120, 90] + [0] * 762)
    yield "palette png", encode(palette, "PNG", optimize=True)


def tiny_faces(known_photo, count: int):
    """A picture with `count` faces of about 20 px: found, but too small to judge among several."""
    canvas = textured(320, 240)
    tiny = known_photo("without_mask").resize((24, 21))
    for i in range(count):
        canvas.paste(tiny, (60 + 100 * i, 100))
    return canvas


def make_folder(root: Path, per_class: int = 12) -> Path:
    """Three classes told apart by where a bright band sits on a randomly coloured picture:
    distinct photos to the near-duplicate grouping, learnable in two epochs."""
    rng = np.random.default_rng(0)
    for label, name in enumerate(CLASS_NAMES):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.normal(0, 12, (96, 96, 3)) + rng.integers(20, 235, 3)
            pixels[label * 32 : (label + 1) * 32] = 250
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(root / name / f"{name}_{i}.jpg")
    return root


def selfie_with_people_behind(behind: int = 2, size: tuple[int, int] = (960, 720)) -> bytes:
    """A JPEG of one large drawn face in front and `behind` small ones far behind it, near the
    top edge, each a tenth of the large one's height: a selfie in a street."""
    width, height = size
    canvas = np.asarray(textured(width, height, seed=3)).copy()
    side = height // 8
    for index in range(behind):
        left = 10 + index * (side + 20) if index % 2 == 0 else width - (index // 2 + 1) * (side + 20)
        tile = canvas[30 : 30 + side, left : left + side]
        canvas[30 : 30 + side, left : left + side] = drawn_face(tile, seed=10 + index, size=0.9)
    middle = canvas[height // 6 :, width // 4 : 3 * width // 4]
    canvas[height // 6 :, width // 4 : 3 * width // 4] = drawn_face(middle, seed=1, size=0.75)
    return encode(Image.fromarray(canvas))
