"""Shared fixtures: generated photos, the shared data folder, the shipped model."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("MASKBOT_SHARED_DATA", ROOT.parent / "shared" / "data"))
SHIPPED_MODEL = ROOT / "model" / "shipped" / "v1"


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
    """A drawn face (hair, ears, eyes, brows, nose, lips) in the middle of a textured picture, its
    height about `size` of the picture's short side: the face finder finds it with a score near 1,
    so photos made from it get a verdict. Which verdict an untrained model gives is not fixed."""
    import cv2

    rng = np.random.default_rng(seed)
    pixels = np.asarray(textured(width, height, seed)).copy()
    cx, cy = width // 2, height // 2
    half_width = int(min(width, height) * size * 0.38)
    half_height = int(half_width * 1.3)
    skin = (int(rng.integers(190, 235)), int(rng.integers(140, 180)), int(rng.integers(110, 150)))
    shade = tuple(int(channel * 0.8) for channel in skin)
    hair = (40, 30, 20)
    cv2.ellipse(pixels, (cx, cy - half_height // 4), (int(half_width * 1.1), int(half_height * 0.95)), 0, 180, 360,
                hair, -1)
    cv2.ellipse(pixels, (cx, cy), (half_width, half_height), 0, 0, 360, skin, -1)
    for side in (-1, 1):
        cv2.ellipse(pixels, (cx + side * (half_width + 4), cy), (int(half_width * 0.15), int(half_height * 0.2)),
                    0, 0, 360, skin, -1)
        eye_x, eye_y = cx + side * int(half_width * 0.42), cy - int(half_height * 0.15)
        cv2.ellipse(pixels, (eye_x, eye_y), (int(half_width * 0.22), int(half_height * 0.08)), 0, 0, 360,
                    (245, 245, 245), -1)
        cv2.circle(pixels, (eye_x, eye_y), int(half_height * 0.07), (60, 40, 30), -1)
        cv2.circle(pixels, (eye_x, eye_y), int(half_height * 0.03), (10, 10, 10), -1)
        cv2.line(pixels, (eye_x - int(half_width * 0.25), eye_y - int(half_height * 0.16)),
                 (eye_x + int(half_width * 0.25), eye_y - int(half_height * 0.19)), hair, max(2, half_height // 30))
    nose = np.array([[cx, cy - int(half_height * 0.05)], [cx - int(half_width * 0.15), cy + int(half_height * 0.25)],
                     [cx + int(half_width * 0.15), cy + int(half_height * 0.25)]])
    cv2.fillPoly(pixels, [nose], shade)
    cv2.ellipse(pixels, (cx, cy + half_height // 2), (int(half_width * 0.35), int(half_height * 0.09)), 0, 0, 360,
                (170, 60, 60), -1)
    return Image.fromarray(cv2.GaussianBlur(pixels, (0, 0), 1.2))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "masks3").is_dir():
        pytest.skip(f"the shared data folder is absent ({SHARED_DATA}); CI has it")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shipped_model_dir() -> Path:
    if not (SHIPPED_MODEL / "model.keras").exists():
        pytest.fail(f"the shipped model is missing from {SHIPPED_MODEL}")
    return SHIPPED_MODEL


@pytest.fixture(scope="session")
def predictor(shipped_model_dir):
    from model.predictor import Predictor

    return Predictor(shipped_model_dir)


from tests.bot_harness import bot, fake  # noqa: E402,F401
from tests.storage_fixtures import database, database_url, repository  # noqa: E402,F401
