"""Synthetic masks painted from landmarks, splits by source photo, and the guard against painted test faces."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from model import CLASS_NAMES
from model.faces import FaceDetector
from tests.support.photos import face_like
from training.dataset import Split, list_images, make_split
from training.synth import paint, read_sources, synthesise
from training.train import Source, check_synthetic_sources


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    root = tmp_path_factory.mktemp("drawn")
    for name in ("with_mask", "without_mask"):
        (root / name).mkdir()
    for seed in range(5):
        face_like(320, 240, seed=seed).save(root / "without_mask" / f"bare_{seed}.jpg")
        face_like(320, 240, seed=10 + seed).save(root / "with_mask" / f"masked_{seed}.jpg")
    bare = [(f"drawn/without_mask/bare_{seed}.jpg", root / "without_mask" / f"bare_{seed}.jpg") for seed in range(5)]
    return bare, sorted((root / "with_mask").iterdir())


def test_the_mask_covers_the_nose_only_when_worn_properly():
    rgb = np.asarray(face_like(640, 480))
    [face] = FaceDetector().faces(rgb)
    fabric = np.full((1, 48, 48, 3), (40, 90, 200), dtype=np.uint8)  # a blue mask, unlike any skin

    def blue_at(image, point):
        x, y = (round(v) for v in point)
        r, _, b = image[y - 2 : y + 3, x - 2 : x + 3].reshape(-1, 3).mean(axis=0)
        return b > r + 40

    mouth = tuple(np.mean([face.landmark("right_mouth"), face.landmark("left_mouth")], axis=0))
    covering = paint(rgb, face, "covering", fabric, np.random.default_rng(0))
    under_nose = paint(rgb, face, "under_nose", fabric, np.random.default_rng(0))
    on_chin = paint(rgb, face, "on_chin", fabric, np.random.default_rng(0))
    assert blue_at(covering, face.landmark("nose")) and blue_at(covering, mouth)
    assert not blue_at(under_nose, face.landmark("nose")) and blue_at(under_nose, mouth)
    assert not blue_at(on_chin, face.landmark("nose")) and not blue_at(on_chin, mouth)
    for painted in (covering, under_nose, on_chin):  # the eyes always stay visible
        assert not blue_at(painted, face.landmark("right_eye")) and not blue_at(painted, face.landmark("left_eye"))


def test_synthesis_writes_both_versions_of_each_face_deterministically(drawn, tmp_path):
    bare, masked = drawn
    counts = synthesise(bare, masked, tmp_path / "a", seed=3, limit=4)
    assert counts == {"with_mask": 4, "mask_weared_incorrect": 4}
    with (tmp_path / "a" / "manifest.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8 and {row["label"] for row in rows} == {"with_mask", "mask_weared_incorrect"}
    assert {row["style"] for row in rows if row["label"] == "with_mask"} == {"covering"}
    assert {row["style"] for row in rows if row["label"] != "with_mask"} <= {"under_nose", "on_chin", "hanging"}
    pairs = {}
    for row in rows:  # each face painted once each way
        pairs.setdefault(row["file"].split("/")[1], set()).add(row["label"])
    assert all(labels == {"with_mask", "mask_weared_incorrect"} for labels in pairs.values())
    assert set(read_sources(tmp_path / "a").values()) <= {source for source, _ in bare}
    assert (tmp_path / "a" / "contact.jpg").stat().st_size > 1000
    assert len(list_images(tmp_path / "a")) == 8
    synthesise(bare, masked, tmp_path / "b", seed=3, limit=4)
    for row in rows:
        assert (tmp_path / "a" / row["file"]).read_bytes() == (tmp_path / "b" / row["file"]).read_bytes()


def test_faces_of_one_source_photo_share_a_side_of_the_split(tmp_path):
    for name in CLASS_NAMES:
        (tmp_path / name).mkdir()
    rows = []
    for photo in range(30):
        for face in range(2):
            name = CLASS_NAMES[(photo + face) % 3]
            file = f"{name}/p{photo}_{face}.jpg"
            face_like(64, 64, seed=photo).save(tmp_path / file)
            rows.append({"file": file, "label": name, "photo": f"p{photo}"})
    with (tmp_path / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "label", "photo"])
        writer.writeheader()
        writer.writerows(rows)
    split = make_split(list_images(tmp_path))
    assert set(split.parts.values()) == {"train", "val", "test"}
    for photo in range(30):
        sides = {split.parts[row["file"]] for row in rows if row["photo"] == f"p{photo}"}
        assert len(sides) == 1, photo


def test_training_refuses_synthetic_faces_painted_from_held_out_photos(drawn, tmp_path):
    bare, masked = drawn
    synthesise(bare, masked, tmp_path / "synth", seed=3, limit=5)
    parts = {source.split("/", 1)[1]: "train" for source, _ in bare}
    source = Source("drawn", "split-drawn.json", None, Split("x", parts), *(np.array([], dtype=np.int64),) * 3)
    check_synthetic_sources(tmp_path / "synth", [source])
    painted = sorted(set(read_sources(tmp_path / "synth").values()))[0].split("/", 1)[1]
    parts[painted] = "test"
    with pytest.raises(ValueError, match="validation or test"):
        check_synthetic_sources(tmp_path / "synth", [source])


def test_the_synth_command_paints_training_faces_only(tmp_path):
    import subprocess
    import sys

    data = tmp_path / "people"
    for name in ("with_mask", "without_mask"):
        (data / name).mkdir(parents=True)
    for seed in range(12):
        face_like(320, 240, seed=seed).save(data / "without_mask" / f"bare_{seed}.jpg")
        face_like(320, 240, seed=40 + seed).save(data / "with_mask" / f"masked_{seed}.jpg")
    out = tmp_path / "synth"
    result = subprocess.run(
        [sys.executable, "-m", "cli", "data", "synth", "--data", str(data), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "contact.jpg" in result.stdout
    split = make_split(list_images(data))
    painted = set(read_sources(out).values())
    assert painted == {
        f"people/{name}" for name, part in split.parts.items() if part == "train" and name.startswith("without_mask/")
    }
