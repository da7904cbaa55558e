"""Label errors: found from out-of-fold probabilities, recorded in a reviewed file, applied by
training and evaluation without touching the data folder."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from cleanlab.filter import find_label_issues

from tests.support.photos import make_folder
from training import dataset
from training.labelissues import out_of_fold_probabilities


def test_out_of_fold_probabilities_find_the_flipped_labels():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(3, 16)) * 4
    labels = np.repeat([0, 1, 2], 100)
    features = centres[labels] + rng.normal(size=(300, 16))
    groups = np.arange(300) // 2  # two faces a photo: folds keep them together
    noisy = labels.copy()
    flipped = [5, 7, 9, 110, 112, 114, 230, 232, 234]
    noisy[flipped] = [1, 1, 1, 2, 2, 2, 0, 0, 0]
    probabilities = out_of_fold_probabilities(features, noisy, groups)
    assert probabilities.shape == (300, 3) and np.allclose(probabilities.sum(axis=1), 1)
    issues = find_label_issues(noisy, probabilities, return_indices_ranked_by="self_confidence")
    assert sorted(issues.tolist()) == flipped


def test_out_of_fold_probabilities_never_score_a_face_with_its_own_photo():
    # Every photo's faces share a label the features cannot tell: a model that had seen the photo
    # would score them right; out of fold, they are guessed like any stranger.
    rng = np.random.default_rng(1)
    features = rng.normal(size=(120, 8))
    labels = np.repeat([0, 1, 2], 40)
    groups = np.arange(120) // 4
    probabilities = out_of_fold_probabilities(features, labels, groups)
    assert np.mean(probabilities.argmax(axis=1) == labels) < 0.6


def write_corrections(path, rows):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["folder", "file", "old_label", "new_label", "why"])
        writer.writerows(rows)


def test_corrections_relabel_the_cached_faces_and_come_undone_when_removed(tmp_path, monkeypatch):
    data = make_folder(tmp_path / "faces", per_class=3)
    names = sorted(path.name for path in (data / "without_mask").iterdir())
    corrections = tmp_path / "label_corrections.csv"
    monkeypatch.setattr(dataset, "LABEL_CORRECTIONS", corrections)
    write_corrections(
        corrections,
        [
            ["faces", f"without_mask/{names[0]}", "without_mask", "mask_weared_incorrect", "mask on the chin"],
            ["other", f"without_mask/{names[1]}", "without_mask", "with_mask", "another folder's file"],
        ],
    )
    arrays = dataset.cached_arrays(data, tmp_path / "cache")
    position = arrays.files.index(f"without_mask/{names[0]}")
    assert arrays.labels[position] == 2
    assert arrays.labels[arrays.files.index(f"without_mask/{names[1]}")] == 1
    write_corrections(corrections, [])
    assert dataset.cached_arrays(data, tmp_path / "cache").labels[position] == 1  # the cache keeps the folder's


def test_a_correction_that_no_longer_fits_the_folder_stops_training(tmp_path, monkeypatch):
    data = make_folder(tmp_path / "faces", per_class=2)
    name = sorted(path.name for path in (data / "with_mask").iterdir())[0]
    corrections = tmp_path / "label_corrections.csv"
    monkeypatch.setattr(dataset, "LABEL_CORRECTIONS", corrections)
    write_corrections(corrections, [["faces", f"with_mask/{name}", "without_mask", "with_mask", "stale"]])
    with pytest.raises(ValueError, match="is not labelled without_mask"):
        dataset.cached_arrays(data, tmp_path / "cache")


def test_every_recorded_correction_names_a_class_change_and_its_reason():
    from model import CLASS_NAMES

    with dataset.LABEL_CORRECTIONS.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    for row in rows:
        assert row["file"].split("/", 1)[0] == row["old_label"] != row["new_label"]
        assert {row["old_label"], row["new_label"]} <= set(CLASS_NAMES)
        assert row["why"].strip()
    assert len({(row["folder"], row["file"]) for row in rows}) == len(rows)
