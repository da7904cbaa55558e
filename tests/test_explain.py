"""The "Why?" button: the class activation maps the served model gives, the region they name, the picture,
and the same face found again in its photo."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
from PIL import Image

from bot import replies
from bot.callbacks import FeedbackButton, decode_feedback
from bot.i18n import LANGUAGES, translator
from model import CLASS_NAMES, IMAGE_SIZE, ONNX_FILE
from model.explain import PICTURE_SIDE, REGIONS, draw, evidence, explain, explain_again, region, upsample
from model.predictor import Predictor, read_metadata
from model.registry import shipped_versions
from tests.support.photos import encode, face_like
from training.export import keras_predictor

UPRIGHT = ((48.0, 52.0), (80.0, 52.0), (64.0, 70.0), (52.0, 88.0), (76.0, 88.0))
"""Eyes, nose tip and mouth corners of an upright face in a 128-pixel crop: the eyes-to-mouth
distance is 36 pixels, the nose tip halfway."""


def blob(x: float, y: float, spread: float = 5.0, side: int = IMAGE_SIZE) -> np.ndarray:
    ys, xs = np.mgrid[0:side, 0:side] + 0.5
    return np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * spread**2)).astype(np.float32)


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ((64, 66), "nose"),
        ((64, 90), "mouth"),
        ((64, 108), "chin"),
        ((64, 50), "eyes"),
        ((64, 28), "eyes"),  # the forehead counts with the eyes: neither is where a mask goes
        ((6, 6), "outside"),
        ((122, 70), "outside"),
    ],
)
def test_the_region_is_where_the_heat_falls_between_the_landmarks(where, expected):
    assert region(blob(*where), UPRIGHT) == expected


def test_heat_over_both_nose_and_mouth_names_both():
    assert region(blob(64, 70) + blob(64, 88), UPRIGHT) == "nose_and_mouth"
    assert region(blob(64, 70) + 0.3 * blob(64, 88), UPRIGHT) == "nose"


def test_a_turned_face_gets_turned_bands():
    """The same face rotated by a quarter turn: heat at its chin is still its chin, although in
    the crop it lies beside the face's middle, not below it."""
    turned = tuple((128 - y, x) for x, y in UPRIGHT)  # 90 degrees clockwise about the crop's middle
    heat = np.rot90(blob(64, 108), k=-1)
    assert region(heat, turned) == "chin"
    assert region(blob(64, 108), turned) == "outside"


def test_a_broad_blob_over_the_forehead_is_not_named_by_the_largest_band():
    """The forehead band is the tallest; heat centred on the nose that spills into it is the nose."""
    assert region(blob(64, 66, spread=14), UPRIGHT) == "nose"


def test_heat_that_is_nowhere_positive_still_names_its_least_negative_place():
    assert region(blob(64, 90) - 2.0, UPRIGHT) == "mouth"


def test_evidence_is_what_speaks_for_the_class_against_the_others():
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(4, 4, len(CLASS_NAMES))).astype(np.float32)
    shared = rng.normal(size=(4, 4, 1)).astype(np.float32)
    # What every class weighs alike changes no logit difference, so it is no evidence for any.
    for label in CLASS_NAMES:
        np.testing.assert_allclose(evidence(maps + shared, label), evidence(maps, label), atol=1e-5)
    chosen = CLASS_NAMES.index("without_mask")
    expected = maps[..., chosen] - np.delete(maps, chosen, axis=-1).mean(axis=-1)
    np.testing.assert_allclose(evidence(maps, "without_mask"), expected)


def test_the_picture_is_a_small_jpeg_of_the_crop_coloured_where_the_heat_is():
    crop = np.asarray(face_like(IMAGE_SIZE, IMAGE_SIZE, seed=3, size=0.6))
    heat = np.zeros((4, 4), np.float32)
    heat[2, 1] = 5.0
    picture = draw(crop, heat)
    assert len(picture) < 100_000
    with Image.open(io.BytesIO(picture)) as image:
        assert image.format == "JPEG" and image.size == (PICTURE_SIDE, PICTURE_SIDE)
        pixels = np.asarray(image.convert("RGB")).astype(np.int32)
    enlarged = np.asarray(Image.fromarray(crop).resize((PICTURE_SIDE, PICTURE_SIDE), Image.BICUBIC)).astype(np.int32)
    hot, cold = (slice(232, 248), slice(136, 152)), (slice(20, 36), slice(340, 356))  # cell (2, 1)'s middle; a corner
    assert np.abs(pixels[hot] - enlarged[hot]).mean() > 40  # coloured
    assert np.abs(pixels[cold] - enlarged[cold]).mean() < 12  # only JPEG's own losses
    with Image.open(io.BytesIO(draw(crop, -heat))) as plain:  # no positive heat: the crop as it is
        assert np.abs(np.asarray(plain.convert("RGB")).astype(np.int32) - enlarged).mean() < 8


def test_upsampling_puts_the_networks_cells_on_the_crops_pixels():
    cells = np.zeros((4, 4), np.float32)
    cells[3, 0] = 1.0
    heat = upsample(cells, IMAGE_SIZE)
    assert heat.shape == (IMAGE_SIZE, IMAGE_SIZE)
    y, x = np.unravel_index(heat.argmax(), heat.shape)
    assert 96 <= y < 128 and 0 <= x < 32  # the bottom-left cell's 32x32 pixels


@pytest.fixture(scope="module")
def crops(predictor, known_photo):
    return [predictor.predict(encode(known_photo(label))) for label in ("with_mask", "without_mask")]


def test_the_served_model_gives_exact_class_activation_maps(predictor, crops):
    """Each class's logit is the mean of its map plus the class's bias: the calibrated
    probabilities times the temperature give the logits up to one number per image, so
    (logit - mean of map) differs between classes by the biases alone, the same for every image."""
    pixels = np.stack([face.pixels for face in crops] + [np.full_like(crops[0].pixels, 128)])
    probabilities, maps = predictor.classify(pixels)
    assert maps is not None and maps.shape == (len(pixels), 4, 4, len(CLASS_NAMES))
    offsets = predictor.temperature * np.log(probabilities) - maps.mean(axis=(1, 2))
    biases = offsets - offsets[:, :1]
    assert np.ptp(biases, axis=0).max() < 1e-3
    assert all(face.explainable for face in crops)
    for face in crops:
        assert face.crop_landmarks and all(0 <= v < IMAGE_SIZE for point in face.crop_landmarks for v in point)


def test_keras_and_onnx_give_the_same_maps(crops):
    """On a model whose kernels are float32: ONNX stores float16 kernels after folding batch norm
    into them, Keras before, and the two roundings differ by more than the export could."""
    full_precision = next(
        folder
        for folder in reversed(shipped_versions())
        if read_metadata(folder).get("kernel_precision", "float32") == "float32"
    )
    pixels = np.stack([face.pixels for face in crops])
    _, served = Predictor(full_precision).classify(pixels)
    _, reference = keras_predictor(full_precision).classify(pixels)
    assert served is not None and reference is not None
    np.testing.assert_allclose(served, reference, atol=1e-3 * np.abs(reference).max())


def test_a_model_exported_without_maps_still_serves_without_why(tmp_path, predictor, shipped_model_dir, crops):
    import onnx

    folder = tmp_path / "old"
    shutil.copytree(shipped_model_dir, folder)
    exported = onnx.load(str(folder / ONNX_FILE))
    del exported.graph.output[1:]  # as `model.onnx` files were exported before the maps
    onnx.save(exported, str(folder / ONNX_FILE))
    old = Predictor(folder)
    probabilities, maps = old.classify(np.stack([face.pixels for face in crops]))
    assert maps is None
    np.testing.assert_array_equal(probabilities, predictor.classify(np.stack([face.pixels for face in crops]))[0])
    face = old.predict(encode(face_like(640, 480)))
    assert face.class_maps is None and not face.explainable
    assert not old.gives_maps and predictor.gives_maps
    assert explain_again(old.predict_photo(encode(face_like(640, 480))), 1, None, face.label) is None


def test_a_real_face_is_explained(predictor, crops):
    """How often the region is right is measured on ilc3 (`python -m bench.why`, docs/model.md, "Why?")."""
    for face in crops:
        assert face.class_maps is not None
        answer = explain(face.pixels, face.class_maps, face.label, face.crop_landmarks)
        assert answer.region in REGIONS
        with Image.open(io.BytesIO(answer.picture)) as picture:
            assert picture.format == "JPEG" and len(answer.picture) < 100_000


def test_every_verdict_and_region_has_its_sentence_in_every_language():
    for language in LANGUAGES:
        t = translator(language)
        for label in CLASS_NAMES:
            for name in REGIONS:
                single, group = replies.why(label, name, None, t), replies.why(label, name, 4, t)
                assert single and "{" not in single and "4" in group
    assert replies.why("mask_weared_incorrect", "chin", None, translator("en")) == (
        "I looked mostly at your chin: the mask sits below your nose."
    )


def test_the_why_button_carries_only_the_row_token():
    token = "A" * 22
    data = FeedbackButton(token, "why").encode()
    assert data == f"fb|{token}|why"
    assert decode_feedback(data) == FeedbackButton(token, "why")
    assert decode_feedback(f"fb|{token}|why|5") is None


def test_the_same_face_is_explained_again_from_its_photo(predictor, known_photo):
    """A "Why?" keeps nothing: it judges the photo again, and the same bytes give the same face, so
    the same picture as when it was answered."""
    data = encode(known_photo("without_mask"))
    photo = predictor.predict_photo(data)
    [face] = photo.faces
    assert face.face is not None and face.class_maps is not None
    share = face.face.side / max(photo.width, photo.height)
    again = predictor.predict_photo(data)
    answer = explain_again(again, 1, share, face.label)
    assert answer == explain(face.pixels, face.class_maps, face.label, face.crop_landmarks)
    # The answer the user saw is what is explained, whatever the photo is judged now.
    other = explain_again(again, 1, share, "with_mask")
    assert other == explain(face.pixels, face.class_maps, "with_mask", face.crop_landmarks) != answer
    assert explain_again(again, 1, None, face.label) == answer  # a face without a recorded size
    assert explain_again(again, 2, share, face.label) is None  # no such face any more
    assert explain_again(again, 1, share * 1.5, face.label) is None  # another face than it was
    assert explain_again(again, 1, share * 1.2, face.label) == answer  # found a little differently
