"""Image folders, near-duplicate groups, the leak-aware split and cached arrays.

A data folder holds one sub-folder per class (`with_mask/`, `without_mask/`,
`mask_weared_incorrect/`); folders with fewer classes (external checks) are fine.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from model import CLASS_NAMES
from model.images import IMAGE_SUFFIXES

NEAR_DUPLICATE_SIMILARITY = 0.975
"""Colour signatures this similar are one photo. Measured on masks3: it folds the 3,831 augmented
`mask_weared_incorrect` copies (shifted, zoomed, rotated, mirrored, reflect-padded) into 185
families, while 3,087 of 3,528 `with_mask` photos stay on their own."""


LABEL_CORRECTIONS = Path(__file__).with_name("label_corrections.csv")
"""Reviewed label errors of the shared data folders: folder, file, old_label, new_label, why.
Training and evaluation apply them; the folders themselves are never edited."""


def label_corrections(data_dir: Path | str) -> dict[str, int]:
    """The corrected label (a class index) of each file of `data_dir` that LABEL_CORRECTIONS
    corrects. Raises when a row's old label is not the folder's: the data changed under the review."""
    path = LABEL_CORRECTIONS
    if not path.exists():
        return {}
    folder = Path(data_dir).resolve().name
    corrections = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["folder"] != folder:
                continue
            if row["file"].split("/", 1)[0] != row["old_label"]:
                raise ValueError(f"{path}: {folder}/{row['file']} is not labelled {row['old_label']}")
            corrections[row["file"]] = CLASS_NAMES.index(row["new_label"])
    return corrections


def corrected(data_dir: Path | str, files: list[str], labels: np.ndarray) -> np.ndarray:
    """`labels` of `files` (relative names) with the reviewed corrections applied."""
    corrections = label_corrections(data_dir)
    if not corrections:
        return labels
    return np.array([corrections.get(name, label) for name, label in zip(files, labels, strict=True)], dtype=np.int64)


def default_cache_dir() -> Path:
    """Where preprocessed arrays are cached: $MASKBOT_CACHE, else `.cache`."""
    return Path(os.environ.get("MASKBOT_CACHE", ".cache"))


@dataclass(frozen=True)
class LabelledImage:
    path: Path
    label: int

    @property
    def relative(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"


def list_images(data_dir: Path | str) -> list[LabelledImage]:
    """Every image under the class folders of `data_dir`, sorted for reproducibility."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"no data folder at {data_dir}")
    items: list[LabelledImage] = []
    for label, name in enumerate(CLASS_NAMES):
        folder = data_dir / name
        if folder.is_dir():
            items.extend(
                LabelledImage(path, label) for path in sorted(folder.iterdir()) if path.suffix.lower() in IMAGE_SUFFIXES
            )
    if not items:
        raise FileNotFoundError(f"{data_dir} has none of the class folders {', '.join(CLASS_NAMES)}")
    return items


def fingerprint(items: Iterable[LabelledImage]) -> str:
    """A short hash of the file list and sizes: changes when the data does."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(f"{item.relative}:{item.label}:{item.path.stat().st_size}\n".encode())
    return digest.hexdigest()[:16]


def colour_signature(source: Path | Image.Image) -> np.ndarray:
    """A unit-norm 8x8x8 RGB histogram (square-rooted): blind to flips, shifts and rotations,
    which is what an image augmenter does to a photo."""
    if isinstance(source, Image.Image):
        pixels = np.asarray(source.convert("RGB").resize((64, 64), Image.Resampling.BOX), dtype=np.int32) // 32
    else:
        with Image.open(source) as image:
            return colour_signature(image)
    bins = (pixels[..., 0] * 64 + pixels[..., 1] * 8 + pixels[..., 2]).ravel()
    histogram = np.sqrt(np.bincount(bins, minlength=512).astype(np.float32))
    return histogram / max(float(np.linalg.norm(histogram)), 1e-6)


def near_duplicate_groups(signatures: np.ndarray, threshold: float = NEAR_DUPLICATE_SIMILARITY) -> np.ndarray:
    """Group ids (0..k-1) by single linkage over signature similarity."""
    count = len(signatures)
    parent = np.arange(count)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    block = 1024
    for start in range(0, count, block):
        rows, cols = np.nonzero(signatures[start : start + block] @ signatures.T >= threshold)
        for row, col in zip(rows + start, cols, strict=True):
            if col > row:
                a, b = find(int(row)), find(int(col))
                if a != b:
                    parent[max(a, b)] = min(a, b)
    roots = np.array([find(i) for i in range(count)])
    _, group_ids = np.unique(roots, return_inverse=True)
    return group_ids


def group_split(
    groups: np.ndarray, labels: np.ndarray, fractions: tuple[float, float] = (0.15, 0.15), seed: int = 7
) -> np.ndarray:
    """Assign whole groups to "train", "val" or "test", stratified by each group's majority label."""
    rng = np.random.default_rng(seed)
    assignment = np.empty(len(groups), dtype=object)
    test_fraction, val_fraction = fractions
    group_ids = np.unique(groups)
    majority = np.array([np.bincount(labels[groups == g]).argmax() for g in group_ids])
    for label in np.unique(majority):
        members = rng.permutation(group_ids[majority == label])
        sizes = np.array([np.count_nonzero(groups == g) for g in members])
        cumulative = np.cumsum(sizes) / sizes.sum()
        for group, position in zip(members, cumulative, strict=True):
            part = (
                "test" if position <= test_fraction else "val" if position <= test_fraction + val_fraction else "train"
            )
            assignment[groups == group] = part
    return assignment


@dataclass(frozen=True)
class Split:
    """The fixed, versioned split: relative file name -> "train" | "val" | "test"."""

    data_fingerprint: str
    parts: dict[str, str]

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256(json.dumps(sorted(self.parts.items())).encode())
        return digest.hexdigest()[:16]

    def files(self, part: str) -> list[str]:
        return sorted(name for name, assigned in self.parts.items() if assigned == part)

    def save(self, path: Path) -> None:
        path.write_text(
            json.dumps({"data_fingerprint": self.data_fingerprint, "parts": self.parts}, indent=0, sort_keys=True)
        )

    @classmethod
    def load(cls, path: Path) -> Split:
        raw = json.loads(path.read_text())
        return cls(raw["data_fingerprint"], raw["parts"])


def photo_groups(data_dir: Path, items: list[LabelledImage]) -> np.ndarray | None:
    """Group ids by source photo, from a `manifest.csv` with a `photo` column (ilc3: several faces
    cut from one photo must land on one side), or None when the folder has no such manifest."""
    manifest = Path(data_dir) / "manifest.csv"
    if not manifest.exists():
        return None
    with manifest.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if "photo" not in (reader.fieldnames or ()):
            return None
        photo_of = {row["file"]: row["photo"] for row in reader}
    # A file the manifest does not name is a photo of its own.
    photos = [photo_of.get(item.relative, f"file:{item.relative}") for item in items]
    _, group_ids = np.unique(np.array(photos), return_inverse=True)
    return group_ids


def make_split(items: list[LabelledImage], seed: int = 7) -> Split:
    """Whole groups to one side: a folder's source photos when its manifest names them, else
    near-duplicate families found by colour signature."""
    labels = np.array([item.label for item in items])
    groups = photo_groups(items[0].path.parent.parent, items) if items else None
    if groups is None:
        groups = near_duplicate_groups(np.stack([colour_signature(item.path) for item in items]))
    parts = group_split(groups, labels, seed=seed)
    return Split(fingerprint(items), {item.relative: str(part) for item, part in zip(items, parts, strict=True)})


def _views_of(path: Path) -> tuple[np.ndarray, np.ndarray]:
    from model.faces import process_detector
    from model.images import decode_image
    from model.preprocess import crop_square, squash

    rgb = decode_image(path, min_side=1).pixels
    box = process_detector().largest_face(rgb)
    # Without a face, the centre square: training keeps the image, as masks3 has a few such.
    return squash(rgb), crop_square(rgb, box)


@dataclass
class CachedArrays:
    """Every view of every image of one data folder, as uint8 arrays, in `list_images` order."""

    files: list[str]
    labels: np.ndarray
    squash: np.ndarray
    face: np.ndarray
    fingerprint: str
    """The data folder's `fingerprint`, as when these arrays were made."""

    def view(self, preprocessing: str) -> np.ndarray:
        """What a model with this `preprocessing` (its metadata's) sees at inference time."""
        return self.squash if preprocessing == "squash" else self.face

    def select(self, names: Iterable[str]) -> np.ndarray:
        position = {name: i for i, name in enumerate(self.files)}
        return np.array([position[name] for name in names], dtype=np.int64)


def cached_arrays(data_dir: Path | str, cache_dir: Path | str, workers: int = 2, progress=None) -> CachedArrays:
    """Decode, detect faces and crop once per data folder version and face detector; later calls
    load the .npz."""
    items = list_images(data_dir)
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    data_fingerprint = fingerprint(items)
    from model.faces import DETECTOR_SETTINGS

    cache_file = cache_dir / f"{Path(data_dir).resolve().name}-{data_fingerprint}-{DETECTOR_SETTINGS}.npz"
    if cache_file.exists():
        stored = np.load(cache_file)
        files = [str(name) for name in stored["files"]]
        return CachedArrays(
            files,
            corrected(data_dir, files, stored["labels"]),
            stored["squash"],
            stored["face"],
            data_fingerprint,
        )
    from multiprocessing import get_context

    with get_context("fork").Pool(workers) as pool:
        results = []
        for i, result in enumerate(pool.imap(_views_of, [item.path for item in items], chunksize=32)):
            results.append(result)
            if progress is not None:
                progress(i + 1, len(items))
    files = [item.relative for item in items]
    folder_labels = np.array([item.label for item in items], dtype=np.int64)
    arrays = CachedArrays(
        files,
        corrected(data_dir, files, folder_labels),
        np.stack([r[0] for r in results]),
        np.stack([r[1] for r in results]),
        data_fingerprint,
    )
    partial = cache_file.with_suffix(".tmp.npz")
    # The folder's own labels: the corrections are applied afresh at every load.
    np.savez(partial, files=np.array(files), labels=folder_labels, squash=arrays.squash, face=arrays.face)
    partial.replace(cache_file)
    return arrays


def split_file_name(data_dir: Path, primary: bool) -> str:
    """`split.json` for a model's primary folder (as v1 has), `split-<folder>.json` for the others."""
    return "split.json" if primary else f"split-{Path(data_dir).resolve().name}.json"


def load_or_make_split(
    data_dir: Path, split_file: Path | None, data_fingerprint: str, seed: int, say: Callable[[str], None]
) -> Split:
    if split_file is not None and split_file.exists():
        split = Split.load(split_file)
        if split.data_fingerprint != data_fingerprint:
            say(f"note: {split_file} was made for other data; files it does not list go to training")
        return split
    say(f"splitting {data_dir} by source photo or near-duplicate group ...")
    return make_split(list_images(data_dir), seed=seed)
