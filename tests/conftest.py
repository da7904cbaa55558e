"""Shared fixtures: generated photos, the shared data folder, the shipped model."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.registry import SHIPPED_MODEL  # the newest shipped model; importing it loads no TensorFlow

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Fixtures that live in their own modules: the bot on a loopback Bot API, and the databases.
pytest_plugins = ["tests.bot_harness", "tests.storage_fixtures"]

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("MASKBOT_SHARED_DATA", ROOT.parent / "shared" / "data"))


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
    """A drawn face in the middle of a textured picture (see `training.bench.drawn_face`): the face
    finder finds it, so photos made from it get a verdict."""
    from training.bench import drawn_face

    return Image.fromarray(drawn_face(np.asarray(textured(width, height, seed)), seed, size))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "masks3").is_dir():
        pytest.skip(f"the shared data folder is absent ({SHARED_DATA}); CI has it")
    return SHARED_DATA


KNOWN_PHOTOS = {
    "with_mask": "masks3/with_mask/with_mask_1002.jpg",
    "without_mask": "masks3/without_mask/without_mask_10.jpg",
}
"""Photos whose right answer is known and which the shipped model answers rightly and surely (over
99 %), also after the conversions the tests make (CMYK, 16-bit grey, GIF, EXIF rotation)."""


@pytest.fixture(scope="session")
def known_photo(shared_data):
    """`known_photo(label)`: a fresh RGB copy of the known photo of that class."""

    def load(label: str) -> Image.Image:
        with Image.open(shared_data / KNOWN_PHOTOS[label]) as image:
            return image.convert("RGB")

    return load


def cut_short(model_dir: Path) -> Path:
    """`model_dir` with its model.onnx cut in half, as an interrupted copy or a full disk leaves it."""
    served = model_dir / "model.onnx"
    data = served.read_bytes()
    served.write_bytes(data[: len(data) // 2])
    return model_dir


def shipped_registry(root: Path):
    """A registry of the first two shipped models, v2 the champion: versions the bot can load."""
    from model.registry import Registry, shipped_versions

    registry = Registry(root)
    registry.seed(shipped_versions()[:2])
    return registry


@pytest.fixture(scope="session")
def shipped_model_dir() -> Path:
    if not (SHIPPED_MODEL / "model.keras").exists():
        pytest.fail(f"the shipped model is missing from {SHIPPED_MODEL}")
    return SHIPPED_MODEL


@pytest.fixture(scope="session")
def predictor(shipped_model_dir):
    from model.predictor import Predictor

    return Predictor(shipped_model_dir)
