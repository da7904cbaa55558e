"""Scoring a model folder on labelled data folders, and printing the report's tables."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model import CLASS_NAMES
from model.faces import FaceBox
from model.predictor import Prediction, Predictor
from training import metrics
from training.dataset import Split, cached_arrays


@dataclass(frozen=True)
class Misjudged:
    """One face the model got wrong, for `error_sheets`."""

    truth: str
    said: str
    confidence: float
    name: str
    """The file (or group photo) it came from."""
    pixels: np.ndarray
    """The 128x128 crop the network judged."""


def evaluate(
    predictor: Predictor,
    data_dir: Path,
    cache_dir: Path,
    test_split_only: bool | None = None,
    errors: list[Misjudged] | None = None,
) -> dict:
    """Scores on one folder. On the model's own training folder only its fixed test split counts.
    Every face it gets wrong is added to `errors`, when given."""
    arrays = cached_arrays(data_dir, cache_dir)
    index = np.arange(len(arrays.files))
    split = own_split(predictor.model_dir, arrays.fingerprint)
    if test_split_only is None:
        test_split_only = split is not None
    part = "all images"
    if test_split_only:
        if split is None:
            raise ValueError(f"{predictor.model_dir} has no split of {data_dir}")
        index = arrays.select(split.files("test"))
        part = "fixed test split"
    if not len(index):
        raise ValueError(f"no images to score in {data_dir} ({part})")
    pixels = arrays.view(predictor.preprocessing)
    probabilities = np.concatenate(
        [predictor.probabilities(pixels[index[i : i + 256]]) for i in range(0, len(index), 256)]
    )
    labels = arrays.labels[index]
    if errors is not None:
        said = probabilities.argmax(axis=1)
        errors += [
            Misjudged(
                CLASS_NAMES[labels[i]],
                CLASS_NAMES[said[i]],
                float(probabilities[i, said[i]]),
                arrays.files[index[i]],
                pixels[index[i]],
            )
            for i in np.flatnonzero(said != labels)
        ]
    result = metrics.summary(labels, probabilities, predictor.threshold)
    return {**result, "data_dir": str(data_dir), "part": part, "unsure_share": 1 - result["coverage"]}


def evaluate_photos(predictor: Predictor, data_dir: Path) -> dict:
    """Scores through the bot's own path: each file decoded as a user's photo, its face found,
    cropped and classified. Photos in which no face is found are refused, as the bot refuses them:
    counted in `no_face_share`, left out of the other scores; so are images the bot refuses before
    looking (`unusable_share`: under 32 px, say). Own training folder: test split only."""
    from model.images import ImageError
    from model.predictor import NoFaceFound
    from training.dataset import fingerprint, label_corrections, list_images

    items = list_images(data_dir)
    corrections = label_corrections(data_dir)
    split = own_split(predictor.model_dir, fingerprint(items))
    part = "all images"
    if split is not None:
        test = set(split.files("test"))
        items = [item for item in items if item.relative in test]
        part = "fixed test split"
    labels, rows, refused, unusable = [], [], 0, 0
    for item in items:
        try:
            result = predictor.predict(item.path)
        except NoFaceFound:
            refused += 1
            continue
        except ImageError:  # too small or unreadable: the bot refuses these before looking for faces
            unusable += 1
            continue
        label = corrections.get(item.relative, item.label)
        labels.append(label)
        rows.append([result.probabilities[name] for name in CLASS_NAMES])
    described = {
        "data_dir": str(data_dir),
        "part": f"{part}, whole photos through the bot's path",
        "photos": len(items),
        "no_face_share": refused / len(items) if items else math.nan,
        "unusable_share": unusable / len(items) if items else math.nan,
    }
    if not rows:
        return {**described, "count": 0}
    scores = metrics.summary(np.array(labels), np.array(rows), predictor.threshold)
    return {**scores, **described, "unsure_share": 1 - scores["coverage"]}


def own_split(model_dir: Path, data_fingerprint: str) -> Split | None:
    """The model's fixed split of the data folder with this fingerprint, if it trained on it."""
    for path in sorted(Path(model_dir).glob("split*.json")):
        split = Split.load(path)
        if split.data_fingerprint == data_fingerprint:
            return split
    return None


def format_scores(name: str, scores: dict) -> str:
    """The report's confusion matrix and classification report, plus the scores it lacked."""
    lines = [f"== {name} ({scores['part']}, {scores['count']} images)"]
    if not scores["count"]:
        lines.append(f"refused as no face found {scores['no_face_share']:.3f}: nothing to score")
        return "\n".join(lines)
    matrix = np.asarray(scores["confusion_matrix"])
    width = max(len(c) for c in CLASS_NAMES) + 2
    lines.append("confusion matrix (rows: true, columns: predicted)")
    lines.append(" " * width + "".join(f"{c[:12]:>14}" for c in CLASS_NAMES))
    for name_row, row in zip(CLASS_NAMES, matrix, strict=True):
        lines.append(f"{name_row:<{width}}" + "".join(f"{value:>14}" for value in row))
    lines.append("")
    lines.append(f"{'':<{width}}{'precision':>10}{'recall':>10}{'f1-score':>10}{'support':>10}")
    report = scores["report"]
    for class_name, row in report["classes"].items():
        lines.append(
            f"{class_name:<{width}}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1']:>10.3f}"
            f"{row['support']:>10}"
        )
    for average in ("macro", "weighted"):
        row = report[average]
        lines.append(
            f"{average + ' avg':<{width}}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1']:>10.3f}"
            f"{row['support']:>10}"
        )
    lines.append("")
    lines.append(
        f"accuracy {scores['accuracy']:.4f}   balanced accuracy {scores['balanced_accuracy']:.4f}   "
        f"mask-vs-no-mask {scores['mask_vs_no_mask_accuracy']:.4f}"
    )
    incorrect = report["classes"].get("mask_weared_incorrect")
    lines.append(
        f"macro-F1 {scores['macro_f1']:.4f}"
        + (
            ""
            if incorrect is None
            else f"   worn incorrectly: precision {incorrect['precision']:.3f}, recall {incorrect['recall']:.3f}"
        )
    )
    if "bare_faces" in scores:
        lines.append(
            f"bare faces called worn incorrectly {scores['bare_called_incorrect_share']:.1%} "
            f"({scores['bare_called_incorrect']} of {scores['bare_faces']}), "
            f"called mask on {scores['bare_called_mask_on_share']:.1%} ({scores['bare_called_mask_on']})"
        )
    lines.append(
        f"expected calibration error {scores['expected_calibration_error']:.4f}   "
        f"unsure share {scores.get('unsure_share', float('nan')):.3f}"
    )
    if "coverage" in scores:
        lines.append(f"confident answers {scores['coverage']:.3f}, of which right {scores['confident_accuracy']:.4f}")
    if "no_face_share" in scores:
        lines.append(
            f"refused as no face found {scores['no_face_share']:.3f}, "
            f"as too small or unreadable {scores['unusable_share']:.3f}"
        )
    return "\n".join(lines)


MATCH_IOU = 0.4
"""A face found counts as a labelled one when their boxes overlap this much (intersection over union)."""


def evaluate_scenes(
    predictor: Predictor, scenes_dir: Path, split_file: Path | None = None, errors: list[Misjudged] | None = None
) -> dict:
    """Group photos through the bot's path: labelled faces found (recall at IoU >= MATCH_IOU, a
    too-small face counting as found), and the verdicts on the found faces that were judged.

    `scenes_dir` holds the photos and `boxes.csv` (image, label, xmin, ymin, xmax, ymax). With the
    model's split of the same photos (`split-<folder>.json`), the scores of its test photos alone
    are added: the others may have been trained on."""
    import csv
    from collections import defaultdict

    from model.images import ImageError
    from model.predictor import NoFaceFound

    labelled: dict[str, list[tuple[str, Box]]] = defaultdict(list)
    with (scenes_dir / "boxes.csv").open() as handle:
        for row in csv.DictReader(handle):
            box = (int(row["xmin"]), int(row["ymin"]), int(row["xmax"]), int(row["ymax"]))
            labelled[row["image"]].append((row["label"], box))
    photos: list[ScenePhoto] = []
    for image, wanted in sorted(labelled.items()):
        found: list[tuple[Box, Prediction | None]] = []
        try:
            photo = predictor.predict_photo(scenes_dir / image)
        except (NoFaceFound, ImageError):
            photo = None
        if photo is not None:
            found = [(_corners(p.face), p) for p in photo.faces if p.face is not None]
            found += [(_corners(face), None) for face in photo.too_small]
        # Matching takes faces out of `found`: what stays was found where nobody labelled a face.
        faces = [SceneFace(label, box, *_match(box, found)) for label, box in wanted]
        photos.append(ScenePhoto(Path(image).stem, faces, len(found)))
    scores = {"data_dir": str(scenes_dir), "part": "all scenes", **_scene_scores(photos, predictor.threshold)}
    test_photos = _test_photos(split_file)
    if test_photos is not None:
        scores["part"] = "all scenes, partly trained on"
        photos = [photo for photo in photos if photo.name in test_photos]
        scores["test_photos"] = _scene_scores(photos, predictor.threshold)
    if errors is not None:  # only faces the model never trained on
        errors += [
            Misjudged(face.label, face.prediction.label, face.prediction.confidence, photo.name, face.prediction.pixels)
            for photo in photos
            for face in photo.faces
            if face.prediction is not None and face.prediction.label != face.label
        ]
    return scores


Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class SceneFace:
    label: str
    box: Box
    found: bool
    prediction: Prediction | None
    """The verdict on it, when it was found big enough to judge."""


@dataclass(frozen=True)
class ScenePhoto:
    name: str
    faces: list[SceneFace]
    unlabelled_found: int


def _corners(face: FaceBox) -> Box:
    return (face.x, face.y, face.x + face.width, face.y + face.height)


def iou(a: Box, b: Box) -> float:
    width = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    overlap = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - overlap
    return overlap / union if union else 0.0


def _match(box: Box, found: list[tuple[Box, Prediction | None]]) -> tuple[bool, Prediction | None]:
    """The found face that best overlaps `box`, taken out of `found` so no face counts twice."""
    best = max(range(len(found)), key=lambda i: iou(box, found[i][0]), default=None)
    if best is None or iou(box, found[best][0]) < MATCH_IOU:
        return False, None
    _, prediction = found.pop(best)
    return True, prediction


def _scene_scores(photos: list[ScenePhoto], threshold: float) -> dict:
    faces = [face for photo in photos for face in photo.faces]
    judged = [f for f in faces if f.prediction is not None]
    scores: dict = {
        "photos": len(photos),
        "faces": len(faces),
        "recall": sum(f.found for f in faces) / len(faces) if faces else math.nan,
        "recall_24px": _share([f.found for f in faces if min(f.box[2] - f.box[0], f.box[3] - f.box[1]) >= 24]),
        "judged": len(judged),
        "unlabelled_found": sum(photo.unlabelled_found for photo in photos),
    }
    if judged:
        labels = np.array([CLASS_NAMES.index(f.label) for f in judged])
        rows = np.array([[f.prediction.probabilities[name] for name in CLASS_NAMES] for f in judged if f.prediction])
        summary = metrics.summary(labels, rows, threshold)
        scores.update(summary, unsure_share=1 - summary["coverage"])
    else:
        scores["count"] = 0
    return scores


def format_scene_scores(name: str, scores: dict) -> str:
    """Faces found, then the verdicts on them as `format_scores` prints them."""
    lines = []
    # The test photos first: the others were partly trained on, and flatter the model.
    for part, values in (("the model's test photos", scores.get("test_photos")), (scores["part"], scores)):
        if values is None:
            continue
        lines.append(
            f"== {name}, {part}: {values['photos']} photos, {values['faces']} labelled faces; found at IoU >= "
            f"{MATCH_IOU} {values['recall']:.3f} (faces of 24 px and more {values['recall_24px']:.3f}); "
            f"judged {values['judged']}, the others too small to judge; "
            f"{values['unlabelled_found']} faces found that nobody labelled"
        )
        if values["count"]:
            lines.append(format_scores(f"{name}, verdicts on the faces found and judged", {**values, "part": part}))
    return "\n".join(lines)


def _share(flags: list[bool]) -> float:
    return sum(flags) / len(flags) if flags else math.nan


def _test_photos(split_file: Path | None) -> set[str] | None:
    """The photo ids (file stems before "_<face>") of a split's test part."""
    if split_file is None or not split_file.exists():
        return None
    parts = json.loads(split_file.read_text())["parts"]
    return {Path(name).stem.rsplit("_", 1)[0] for name, part in parts.items() if part == "test"}


def evaluate_groups(
    predictor: Predictor, data_dir: Path, cache_dir: Path, groups_file: Path, columns: list[str] | None = None
) -> dict:
    """Scores per group of people, for the faces of `data_dir` that `groups_file` labels.

    `groups_file` is a CSV with a `file` column (`<class>/<name>`, as splits name files) and one
    column per grouping (docs/fairness/: skin tone and age group, labelled by eye). A face checker
    must not work worse for some people: each group's recall per class and how many of its bare
    faces were called *incorrect* (the error users see most) stand beside the whole set's."""
    import csv

    arrays = cached_arrays(data_dir, cache_dir)
    files = set(arrays.files)
    split = own_split(predictor.model_dir, arrays.fingerprint)
    part = "all images"
    if split is not None:  # the faces the model never trained on
        files &= set(split.files("test"))
        part = "fixed test split"
    with groups_file.open(newline="") as handle:
        reader = csv.DictReader(handle)
        present = [name for name in reader.fieldnames or () if name != "file"]
        # Of the columns asked for, those this file has: one command scores several files.
        groupings = [name for name in columns if name in present] if columns else present
        if not groupings:
            raise ValueError(f"{groups_file} has none of the columns {', '.join(columns or ())}")
        rows = [row for row in reader if row["file"] in files]
    if not rows:
        raise ValueError(f"{groups_file} labels no image of {data_dir}")
    index = arrays.select(row["file"] for row in rows)
    pixels = arrays.view(predictor.preprocessing)
    predicted = np.concatenate(
        [predictor.probabilities(pixels[index[i : i + 256]]).argmax(axis=1) for i in range(0, len(index), 256)]
    )
    labels = arrays.labels[index]
    scores: dict[str, dict[str, dict]] = {}
    for grouping in groupings:
        values = np.array([row[grouping] for row in rows])
        scores[grouping] = {"all": _group_scores(labels, predicted)} | {
            str(group): _group_scores(labels[values == group], predicted[values == group])
            for group in sorted(set(values))
        }
    return {
        "data_dir": str(data_dir),
        "part": part,
        "groups_file": str(groups_file),
        "faces": len(rows),
        "groups": scores,
    }


def _group_scores(labels: np.ndarray, predicted: np.ndarray) -> dict:
    matrix = metrics.confusion_matrix(labels, predicted)
    support = matrix.sum(axis=1)
    return {
        "faces": len(labels),
        "recall": {
            name: float(matrix[i, i] / support[i]) if support[i] else None for i, name in enumerate(CLASS_NAMES)
        },
        "support": {name: int(support[i]) for i, name in enumerate(CLASS_NAMES)},
        "bare_called_incorrect": int(matrix[metrics.NO_MASK, metrics.INCORRECT]),
        "bare_called_mask_on": int(matrix[metrics.NO_MASK, metrics.WITH_MASK]),
    }


def format_group_scores(name: str, scores: dict) -> str:
    """One table per grouping: faces, recall per class (with its support), and how many bare faces
    were called *incorrect* or *mask on*, with their share of the group's bare faces."""
    lines = [f"== {name} ({scores['part']}): {scores['faces']} faces labelled in {scores['groups_file']}"]
    header = "".join(f"{c[:12]:>20}" for c in CLASS_NAMES)
    for grouping, groups in scores["groups"].items():
        lines.append(f"{grouping:<12}{'faces':>7}{header}{'bare as incorrect':>21}{'bare as mask on':>21}")
        for group, row in groups.items():
            cells = "".join(
                f"{'-':>20}" if row["recall"][c] is None else f"{row['recall'][c]:>11.3f} of {row['support'][c]:>4}"
                for c in CLASS_NAMES
            )
            bare = row["support"]["without_mask"]
            shares = "".join(
                f"{row[key]:>12} ({row[key] / bare:>5.1%})" if bare else f"{'-':>21}"
                for key in ("bare_called_incorrect", "bare_called_mask_on")
            )
            lines.append(f"{(group or '(none)')[:12]:<12}{row['faces']:>7}{cells}{shares}")
    return "\n".join(lines)


ERRORS_PER_SHEET = 60


def error_sheets(errors: list[Misjudged], out_dir: Path) -> list[Path]:
    """One contact sheet per (truth, said) pair, `<truth>-as-<said>.png`: each misjudged face with
    its confidence and file name, the surest mistakes first (at most ERRORS_PER_SHEET a sheet)."""
    from collections import defaultdict

    from PIL import Image

    from training.datareport import draw_sheet

    out_dir.mkdir(parents=True, exist_ok=True)
    pairs: dict[tuple[str, str], list[Misjudged]] = defaultdict(list)
    for error in errors:
        pairs[error.truth, error.said].append(error)
    written = []
    for (truth, said), faces in sorted(pairs.items()):
        faces = sorted(faces, key=lambda face: -face.confidence)[:ERRORS_PER_SHEET]
        sheet = draw_sheet(
            [Image.fromarray(face.pixels) for face in faces],
            [(f"{face.confidence:.0%}", Path(face.name).name) for face in faces],
        )
        path = out_dir / f"{truth}-as-{said}.png"
        sheet.save(path)
        written.append(path)
    return written
