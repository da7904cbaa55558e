"""Serving without TensorFlow: the bot's path imports none, and ONNX answers as Keras does."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from model import CLASS_NAMES
from tests.support import ROOT
from tests.support.photos import encode, face_like

PARITY_PHOTOS = 200


def test_the_bot_answers_a_photo_without_importing_tensorflow(tmp_path, shipped_model_dir):
    photo = tmp_path / "face.jpg"
    photo.write_bytes(encode(face_like(640, 480)))
    script = f"""
import asyncio, json, sys
from bot.app import build_application, build_service
from bot.config import load_settings
settings = load_settings({{"BOT_TOKEN": "123:{"a" * 30}", "DATA_DIR": {str(tmp_path)!r},
                          "MODEL_DIR": {str(shipped_model_dir)!r}, "MASKBOT_SECRET": "serving-test-secret-of-32-characters"}})
service = build_service(settings)
build_application(settings, service)
result = asyncio.run(service.judge.check_photo(open({str(photo)!r}, "rb"), 1, "private", "photo"))
service.close()
heavy = sorted(name for name in sys.modules if name.split(".")[0] in ("tensorflow", "keras", "tf2onnx", "matplotlib", "cv2", "av"))
print(json.dumps({{"runtime": service.model.predictor.runtime, "faces": len(result.photo.faces), "heavy": heavy}}))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    outcome = json.loads(done.stdout.splitlines()[-1])
    assert outcome == {"runtime": "onnx", "faces": 1, "heavy": []}


def test_onnx_answers_as_keras_does_on_200_photos(predictor, shipped_model_dir, shared_data):
    from model.images import ImageError
    from training.dataset import list_images
    from training.export import keras_predictor

    assert predictor.runtime == "onnx"
    keras_reference = keras_predictor(shipped_model_dir)
    photos = [item.path for item in list_images(shared_data / "ilc3")][::9][: PARITY_PHOTOS + 20]
    crops = []
    for path in photos:
        try:
            crops += [face.pixels for face in predictor.predict_photo(path).faces]
        except ImageError:
            continue
    crops = crops[:PARITY_PHOTOS]
    assert len(crops) == PARITY_PHOTOS
    served = predictor.probabilities(np.stack(crops))
    reference = keras_reference.probabilities(np.stack(crops))
    # Float16 kernels (v3) are rounded twice on the way to ONNX: once in model.keras, once more
    # after tf2onnx folds batch norm into them. Float32 ones (v1, v2) match to float32 noise.
    half = predictor.metadata.get("kernel_precision") == "float16"
    tolerance = 1e-2 if half else 1e-4
    assert np.abs(served - reference).max() <= tolerance
    assert (served.argmax(axis=1) == reference.argmax(axis=1)).all()
    threshold = predictor.threshold
    clear = np.abs(reference.max(axis=1) - threshold) > tolerance  # a flag may only flip within it
    assert clear.sum() >= PARITY_PHOTOS - 5
    assert ((served.max(axis=1) < threshold) == (reference.max(axis=1) < threshold))[clear].all()
    assert served.shape == (PARITY_PHOTOS, len(CLASS_NAMES))


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
def test_every_shipped_model_carries_its_served_copy(version, shipped_model_dir):
    from model import ONNX_FILE

    assert (shipped_model_dir.parent / version / ONNX_FILE).stat().st_size > 1_000_000


def test_a_serving_only_install_says_what_training_needs():
    # `None` in sys.modules makes an import fail as it does where the package is not installed.
    script = (
        "import sys; sys.modules['tensorflow'] = sys.modules['keras'] = None\n"
        "from cli import main\n"
        "sys.exit(main(['models', 'export', 'model/shipped/v2']))"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "maskbot: this needs TensorFlow and Keras, which serving does without: pip install 'maskbot[train]'"
    )
