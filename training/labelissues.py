"""Finding label errors instead of learning them: `maskbot data label-issues`.

Every face of the training folders gets a probability for each class from a model that never saw
it: a logistic regression on EfficientNet-Lite0's ImageNet features (a network that never saw these
labels: a shipped model's own features have learnt them, mistakes included), fitted on the other folds,
the folds split by source photo (or near-duplicate family) as the training split is, so no face
is scored by a model that saw its own photo. cleanlab's `find_label_issues` then ranks the faces
whose label disagrees most with those out-of-fold probabilities. A person looks at the contact
sheets and writes each decision in training/label_corrections.csv (`training.dataset`), which
training and evaluation apply; ../shared is never edited.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model import CLASS_NAMES
from training.dataset import cached_arrays, colour_signature, list_images, near_duplicate_groups, photo_groups

FOLDS = 5


@dataclass(frozen=True)
class Candidate:
    folder: str
    file: str
    label: str
    """The label the folder gives it (after the corrections already recorded)."""
    suggested: str
    """The class the out-of-fold model favours."""
    self_confidence: float
    """The out-of-fold probability of its own label: the lower, the likelier a label error."""
    pixels: np.ndarray


def pooled_features(network, pixels: np.ndarray) -> np.ndarray:
    """The network's global-average-pooled features (its last layer's input) for 128x128 crops."""
    import keras

    from training.architectures import predict_array

    return predict_array(keras.Model(network.inputs, network.get_layer("pool").output), pixels)


def out_of_fold_probabilities(
    features: np.ndarray, labels: np.ndarray, groups: np.ndarray, folds: int = FOLDS, seed: int = 7
) -> np.ndarray:
    """Each row's class probabilities from a logistic regression fitted on the folds that do not
    hold its group."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probabilities = np.zeros((len(labels), len(CLASS_NAMES)), dtype=np.float64)
    splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, held_out in splitter.split(features, labels, groups):
        classifier = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
        classifier.fit(features[train], labels[train])
        probabilities[np.ix_(held_out, classifier.classes_)] = classifier.predict_proba(features[held_out])
    return probabilities


def source_groups(data_dir: Path) -> np.ndarray:
    """The groups the training split keeps together: source photos, else near-duplicate families."""
    items = list_images(data_dir)
    groups = photo_groups(data_dir, items)
    if groups is None:
        groups = near_duplicate_groups(np.stack([colour_signature(item.path) for item in items]))
    return groups


def find_candidates(data_dirs: list[Path], cache_dir: Path, say=print) -> list[Candidate]:
    """The faces of `data_dirs` most likely mislabelled, likeliest first."""
    from cleanlab.filter import find_label_issues

    from training.architectures import efficientnet_lite0, load_imagenet_weights

    network = efficientnet_lite0()
    load_imagenet_weights(network)
    candidates: list[Candidate] = []
    for data_dir in data_dirs:
        arrays = cached_arrays(data_dir, cache_dir)
        say(f"{data_dir}: features of {len(arrays.files)} faces ...")
        features = pooled_features(network, arrays.face)
        probabilities = out_of_fold_probabilities(features, arrays.labels, source_groups(data_dir))
        issues = find_label_issues(arrays.labels, probabilities, return_indices_ranked_by="self_confidence")
        say(f"{data_dir}: {len(issues)} likely label errors")
        candidates += [
            Candidate(
                Path(data_dir).resolve().name,
                arrays.files[i],
                CLASS_NAMES[arrays.labels[i]],
                CLASS_NAMES[int(probabilities[i].argmax())],
                float(probabilities[i, arrays.labels[i]]),
                arrays.face[i],
            )
            for i in issues
        ]
    return sorted(candidates, key=lambda candidate: candidate.self_confidence)


def write_candidates(candidates: list[Candidate], out_dir: Path, per_sheet: int = 60) -> None:
    """`candidates.csv` (folder, file, label, suggested, self_confidence) and contact sheets of
    them by (label, suggested) pair, the likeliest errors first: what a reviewer looks at."""
    from PIL import Image

    from training.datareport import draw_sheet

    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "candidates.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["folder", "file", "label", "suggested", "self_confidence"])
        writer.writerows([c.folder, c.file, c.label, c.suggested, f"{c.self_confidence:.4f}"] for c in candidates)
    pairs: dict[tuple[str, str], list[Candidate]] = {}
    for candidate in candidates:
        pairs.setdefault((candidate.label, candidate.suggested), []).append(candidate)
    for (label, suggested), chosen in pairs.items():
        chosen = chosen[:per_sheet]
        draw_sheet(
            [Image.fromarray(c.pixels) for c in chosen],
            [(f"{c.self_confidence:.2f}", Path(c.file).name) for c in chosen],
        ).save(out_dir / f"{label}-maybe-{suggested}.png")
