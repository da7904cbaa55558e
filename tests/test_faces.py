"""The face finder: every face with box, score and landmarks, largest first, and no face where none is."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from model.faces import LANDMARK_NAMES, FaceDetector
from tests.support.photos import face_like, textured


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


def test_a_drawn_face_is_found_with_its_landmarks_in_place(detector):
    rgb = np.asarray(face_like(640, 480))
    [face] = detector.faces(rgb)
    assert face.score > 0.9
    assert 250 < face.centre[0] < 390 and 170 < face.centre[1] < 310 and 120 < face.height < 260
    assert len(face.landmarks) == len(LANDMARK_NAMES) == 5
    right_eye, left_eye, nose = (face.landmark(name) for name in ("right_eye", "left_eye", "nose"))
    mouth_y = (face.landmark("right_mouth")[1] + face.landmark("left_mouth")[1]) / 2
    # The person's right eye is on the image's left; eyes above the nose, the nose above the mouth.
    assert right_eye[0] < nose[0] < left_eye[0]
    assert max(right_eye[1], left_eye[1]) < nose[1] < mouth_y
    for x, y in face.landmarks:
        assert face.x <= x <= face.x + face.width and face.y <= y <= face.y + face.height


def test_every_face_is_returned_largest_first(detector):
    big, small = np.asarray(face_like(400, 400, seed=1)), np.asarray(face_like(240, 240, seed=2))
    group = np.asarray(textured(1000, 500, seed=3)).copy()
    group[50:450, 520:920] = big
    group[130:370, 80:320] = small
    faces = detector.faces(group)
    assert len(faces) == 2
    assert faces[0].area > faces[1].area
    assert faces[0].centre[0] > 500 > faces[1].centre[0]


@pytest.mark.parametrize(
    "picture",
    [
        Image.new("RGB", (640, 480)),
        Image.new("RGB", (640, 480), (255, 255, 255)),
        textured(1280, 960),
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)),
    ],
    ids=["black", "white", "textured", "noise"],
)
def test_no_face_is_found_where_there_is_none(detector, picture):
    assert detector.faces(np.asarray(picture)) == []
    assert detector.largest_face(np.asarray(picture)) is None


def test_a_face_cut_tight_to_the_frame_is_found_on_the_second_search(detector):
    rgb = np.asarray(face_like(640, 480, size=0.6))
    [face] = detector.faces(rgb)
    tight = rgb[face.y + face.height // 8 : face.y + face.height, face.x : face.x + face.width]
    found = detector.faces(tight)
    assert found, "the border retry should find a face filling the whole picture"
    assert found[0].x >= 0 and found[0].y >= 0
    assert found[0].x + found[0].width <= tight.shape[1] and found[0].y + found[0].height <= tight.shape[0]


def test_tiny_and_wide_photos_are_searched(detector):
    assert detector.faces(np.asarray(face_like(96, 72, size=0.9)))
    assert detector.faces(np.asarray(face_like(1600, 400, size=0.8)))


def test_threads_share_one_detector(detector):
    photos = [np.asarray(face_like(640, 480, seed=seed)) for seed in range(6)]
    expected = [detector.faces(photo) for photo in photos]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(detector.faces, photos * 3))
    assert results == expected * 3
