"""Serving without OpenCV (issue #26): the model and console modules import no cv2, and what took
the place of OpenCV's calls gives OpenCV's answers. OpenCV stays in the development install (the
`train` extra), so here it is the reference."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.support import ROOT, unavailable
from tests.support.photos import textured

SERVING_MODULES = (
    "model.faces",
    "model.framing",
    "model.preprocess",
    "model.explain",
    "model.video",
    "model.predictor",
    "console.heatmaps",
)


@pytest.fixture(scope="module")
def cv2():
    try:
        import cv2
    except ImportError:
        unavailable("OpenCV, the reference here, is absent (the train extra installs it)")
    return cv2


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    """Pictures with a photo's mix of smooth areas and detail, in sizes that resize by whole and
    by fractional factors."""
    sizes = ((1280, 960), (1280, 853), (1008, 756), (626, 417), (300, 300), (97, 61))
    return [np.asarray(textured(width, height, seed)) for seed, (width, height) in enumerate(sizes)]


def test_the_serving_modules_import_no_opencv():
    code = "import sys\n" + "".join(f"import {name}\n" for name in SERVING_MODULES) + "print('cv2' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_overlapping_boxes_are_suppressed_as_opencv_suppresses_them(cv2):
    from model.faces import suppress_overlaps

    rng = np.random.default_rng(0)
    for trial in range(600):
        count = int(rng.integers(0, 50))
        corners = rng.uniform(-20, 300, (count, 2))
        sizes = rng.uniform(0.5, 120, (count, 2))
        scores = rng.uniform(0, 1, count)
        if trial % 3 == 0:  # duplicates, shared edges and tied scores, as a detector's boxes have
            corners, sizes, scores = (
                np.round(corners / 10) * 10,
                np.round(sizes / 10) * 10 + 10,
                np.round(scores * 5) / 5,
            )
        boxes = np.hstack([corners, sizes]).astype(np.float32)
        scores = scores.astype(np.float32)
        score_threshold = float(rng.choice([0.0, 0.3, 0.5]))
        overlap_threshold = float(rng.choice([0.0, 0.3, 0.4, 0.7]))
        expected = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), score_threshold, overlap_threshold)
        chosen = suppress_overlaps(boxes, scores, score_threshold, overlap_threshold)
        assert chosen.tolist() == np.asarray(expected, dtype=np.int64).ravel().tolist()


def test_grey_is_opencvs_to_one_level(cv2, photos):
    from model.framing import grey

    differences = [np.abs(grey(rgb).astype(np.int16) - cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)) for rgb in photos]
    assert max(difference.max() for difference in differences) <= 1
    # Noise has the most sums near a half; on real photos about one pixel in 100,000 differs.
    assert sum((difference > 0).sum() for difference in differences) / sum(d.size for d in differences) < 1e-3


def test_the_laplacians_variance_is_opencvs(cv2, photos):
    from model.framing import laplacian_variance

    rng = np.random.default_rng(1)
    pictures = [cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) for rgb in photos]
    pictures += [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((1, 1), (1, 5), (2, 2), (3, 1), (7, 2))]
    for picture in pictures:
        assert laplacian_variance(picture) == pytest.approx(cv2.Laplacian(picture, cv2.CV_64F).var(), rel=1e-12)


def test_light_and_focus_are_measured_as_with_opencv(cv2, photos):
    from model.framing import measure_light_and_focus

    for rgb in photos:
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        scale = 256 / max(gray.shape)
        if scale < 1:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        expected = (gray.mean() / 255, (gray / 255).std(), cv2.Laplacian(gray, cv2.CV_64F).var())
        assert measure_light_and_focus(rgb) == pytest.approx(expected, rel=1e-3)


def assert_resized_as_opencv(ours: np.ndarray, expected: np.ndarray) -> None:
    assert ours.shape == expected.shape and ours.dtype == expected.dtype
    assert np.array_equal(ours, expected)


def test_shrinking_by_area_is_opencvs(cv2, photos):
    from model.preprocess import resize_area

    for rgb in photos:
        height, width = rgb.shape[:2]
        for picture in (rgb, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)):
            for factor in (2, 3, 4, 5):  # whole factors: OpenCV's block means, exactly
                whole = picture[: height // factor * factor, : width // factor * factor]
                size = (width // factor, height // factor)
                if min(size):
                    expected = cv2.resize(np.ascontiguousarray(whole), size, interpolation=cv2.INTER_AREA)
                    assert_resized_as_opencv(resize_area(whole, *size), expected)
            for side in (640, 320, 256, 128, 40):  # the two searches, the light measure, crops
                scale = side / max(height, width)
                if scale < 1:
                    size = (max(1, round(width * scale)), max(1, round(height * scale)))
                    expected = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
                    assert_resized_as_opencv(resize_area(picture, *size), expected)
            # Sized from a chosen factor, as measure_light_and_focus sizes its grey copy.
            expected = cv2.resize(picture, None, fx=0.3, fy=0.3, interpolation=cv2.INTER_AREA)
            ours = resize_area(picture, expected.shape[1], expected.shape[0], 1 / 0.3)
            assert_resized_as_opencv(ours, expected)


def test_area_resizing_a_side_that_grows_is_opencvs_exactly(cv2, photos):
    from model.preprocess import resize, resize_area

    for rgb in photos:
        height, width = rgb.shape[:2]
        for size in ((width * 2 + 3, height // 3 + 1), (width + 7, height + 5)):
            expected = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            assert_resized_as_opencv(resize_area(rgb, *size), expected)
        # The report's squash of a wide or tall photo to 128x128 both shrinks and grows.
        strip = rgb[:100]
        expected = cv2.resize(
            strip, (128, 128), interpolation=cv2.INTER_AREA if max(strip.shape[:2]) > 128 else cv2.INTER_LINEAR
        )
        assert_resized_as_opencv(resize(strip), expected)


def test_bilinear_resizing_is_opencvs_exactly(cv2, photos):
    from model.preprocess import resize_bilinear

    rng = np.random.default_rng(2)
    for rgb in photos:
        height, width = rgb.shape[:2]
        for picture in (rgb, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)):
            for _ in range(3):
                crop_height, crop_width = int(rng.integers(2, min(height, 130))), int(rng.integers(2, min(width, 130)))
                crop = picture[:crop_height, :crop_width]
                sizes = (
                    (128, 128),
                    (crop_width * 2, crop_height * 2),
                    (int(rng.integers(1, 300)), int(rng.integers(1, 300))),
                )
                for size in sizes:
                    expected = cv2.resize(crop, size, interpolation=cv2.INTER_LINEAR)
                    assert_resized_as_opencv(resize_bilinear(crop, *size), expected)


def test_face_crops_are_resized_as_opencv_resized_them(cv2, photos):
    from model.faces import FaceBox
    from model.preprocess import crop_square, square_around

    rgb = photos[0]
    for side in (20, 50, 71, 90, 150, 300):
        box = FaceBox(400, 300, side, side)
        x, y, crop_side = square_around(rgb, box)
        crop = rgb[y : y + crop_side, x : x + crop_side]
        expected = cv2.resize(crop, (128, 128), interpolation=cv2.INTER_AREA if crop_side > 128 else cv2.INTER_LINEAR)
        assert_resized_as_opencv(crop_square(rgb, box), expected)


def test_the_heat_is_upsampled_as_opencvs_bicubic(cv2):
    from model.explain import upsample

    rng = np.random.default_rng(3)
    for shape, side in (((4, 4), 128), ((4, 4), 96), ((3, 5), 40), ((1, 1), 8)):
        heat = rng.normal(size=shape).astype(np.float32)
        expected = cv2.resize(heat, (side, side), interpolation=cv2.INTER_CUBIC)
        np.testing.assert_allclose(upsample(heat, side), expected, atol=1e-5 * np.abs(expected).max())


def test_the_colour_map_is_opencvs_jet(cv2):
    from model.explain import JET

    expected = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_JET)[:, 0, ::-1]
    assert np.abs(JET.astype(np.int16) - expected).max() <= 1


def test_the_why_picture_is_a_jpeg_of_the_pictures_side():
    from model.explain import PICTURE_SIDE, draw

    picture = Image.open(io.BytesIO(draw(np.asarray(textured(128, 128)), np.eye(4, dtype=np.float32))))
    assert picture.format == "JPEG" and picture.size == (PICTURE_SIDE, PICTURE_SIDE)


def test_a_clips_frame_reaches_the_photo_path_unchanged():
    from model.video import encode_bmp

    frame = np.asarray(textured(97, 61))
    with Image.open(io.BytesIO(encode_bmp(frame))) as decoded:
        assert decoded.format == "BMP"
        assert np.array_equal(np.asarray(decoded.convert("RGB")), frame)


def test_a_stored_crop_that_does_not_decode_gets_no_heat_map(tmp_path):
    from console.heatmaps import HeatMaps, NoHeatMap

    with pytest.raises(NoHeatMap, match="does not decode"):
        HeatMaps().draw(tmp_path, b"\x89PNG\r\n\x1a\n not really")


def test_data_synth_without_opencv_says_in_one_line_what_to_install(tmp_path):
    # A serving install has no cv2: `import cv2` fails there as it does with it set to None.
    code = "import sys; sys.modules['cv2'] = None; from cli import main; sys.exit(main(sys.argv[1:]))"
    result = subprocess.run(
        [sys.executable, "-c", code, "data", "synth", "--data", str(tmp_path), "--out", str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr == "maskbot: this needs OpenCV, which serving does without: pip install 'maskbot[train]'\n"
