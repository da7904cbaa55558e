"""Shared fixtures: the shared data folder and its known photos, the shipped model. What the tests
share besides fixtures is in tests/support/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from model.registry import SHIPPED_MODEL  # the newest shipped model; importing it loads no TensorFlow
from tests.support import shared_data_folder

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Fixtures that live in their own modules: the bot on a loopback Bot API, and the databases.
pytest_plugins = ["tests.support.bot_harness", "tests.support.storage_fixtures"]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return shared_data_folder()


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


@pytest.fixture(scope="session")
def shipped_model_dir() -> Path:
    if not (SHIPPED_MODEL / "model.keras").exists():
        pytest.fail(f"the shipped model is missing from {SHIPPED_MODEL}")
    return SHIPPED_MODEL


@pytest.fixture(scope="session")
def predictor(shipped_model_dir):
    from model.predictor import Predictor

    return Predictor(shipped_model_dir)
