"""Framing facts and the tips they turn into."""

from __future__ import annotations

import numpy as np

from model.faces import FaceBox
from model.framing import Framing, analyse, tips_for
from model.preprocess import crop_square, square_around, squash


def framing(**overrides) -> Framing:
    values = {
        "width": 1280,
        "height": 960,
        "face_found": True,
        "face_fraction": 0.2,
        "centre_offset": 0.05,
        "brightness": 0.5,
        "contrast": 0.2,
        "sharpness": 300.0,
        "tips": (),
    }
    values.update(overrides)
    return Framing(**values)


def test_a_good_selfie_gets_no_tips():
    assert tips_for(framing()) == ()


def test_each_problem_gets_its_own_specific_tip():
    assert "Move closer" in str(tips_for(framing(face_fraction=0.01))[0])
    assert "1%" in str(tips_for(framing(face_fraction=0.01))[0])
    assert "too dark" in str(tips_for(framing(brightness=0.1))[0])
    assert "too bright" in str(tips_for(framing(brightness=0.95))[0])
    assert "washed out" in str(tips_for(framing(contrast=0.02))[0])
    assert "blurry" in str(tips_for(framing(sharpness=5.0))[0])
    assert "middle" in str(tips_for(framing(centre_offset=0.7))[0])
    assert "120x90" in str(tips_for(framing(width=120, height=90))[0])


def test_a_photo_without_a_face_gets_light_and_focus_tips_only():
    # Its answer already says that no face was found (model.predictor.NoFaceFound).
    missed = framing(face_found=False, face_fraction=None, centre_offset=None, brightness=0.1)
    assert [str(tip) for tip in tips_for(missed)] == ["It is too dark: face a window or a lamp."]


def test_no_more_than_three_tips_most_important_first():
    tips = tips_for(framing(face_fraction=0.01, brightness=0.1, sharpness=1.0, width=100, height=100))
    assert len(tips) == 3
    assert "closer" in str(tips[0]) and "dark" in str(tips[1]) and "blurry" in str(tips[2])


def test_analyse_measures_a_dark_flat_picture():
    rgb = np.full((240, 320, 3), 20, dtype=np.uint8)
    result = analyse(rgb, None)
    assert not result.face_found and result.face_fraction is None
    assert result.brightness < 0.1 and result.sharpness < 1.0
    assert any("dark" in str(tip) for tip in result.tips)


def test_analyse_measures_face_size_and_position():
    rgb = np.random.default_rng(0).integers(0, 255, (400, 400, 3), dtype=np.uint8)
    result = analyse(rgb, FaceBox(0, 0, 40, 40))
    assert result.face_fraction == 0.01
    assert result.centre_offset > 0.8


def test_square_crop_is_centred_on_the_face_and_stays_inside_the_picture():
    rgb = np.zeros((480, 640, 3), dtype=np.uint8)
    assert square_around(rgb, None) == (80, 0, 480)
    x, y, side = square_around(rgb, FaceBox(500, 10, 100, 100))
    assert side == 180 and x + side <= 640 and y == 0
    assert crop_square(rgb, FaceBox(100, 100, 100, 100)).shape == (128, 128, 3)
    assert squash(rgb).shape == (128, 128, 3)
