"""Synthetic examples: masks painted onto bare faces from their landmarks, each face both ways.

Real photos of badly worn masks are few (ilc3 has 354), so each bare training face is painted
twice: once covering nose and mouth (`with_mask`) and once not covering the nose (under the nose,
on the chin, or hanging to one side: `mask_weared_incorrect`). Where the mask sits is then the
only difference between the two classes, which is the thing the classifier must learn.

What keeps it from looking like a sticker: the fabric is cut from real mask photos (ilc3 and
masks3 training faces), folded with pleats, bulged over the nose, shaded by the face's own light,
feathered at the edges, held by ear loops that curve to the side of the head; then blurred, JPEG
compressed or shrunk to crowd sizes like the real photos. Only training-split faces are used:
`manifest.csv` names each source so training can refuse a painted validation or test face.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from model import CLASS_NAMES
from model.faces import FaceBox, process_detector
from model.images import decode_image
from model.preprocess import square_around

STYLES = ("covering", "under_nose", "on_chin", "hanging")
"""`covering` is worn properly; the other three are the ways ilc3's real incorrect faces look."""
INCORRECT_STYLES = STYLES[1:]
MIN_FACE_SIDE = 40
"""Smaller faces give landmarks too rough to place a mask by."""
CROP_MARGIN = 2.2
"""Each painted face is saved as a square this many face-widths wide (less where the photo ends):
the face finder then finds it again when training crops are made, as in a user's photo."""
OUT_SIDE = 192
TEXTURE_SIDE = 48


@dataclass(frozen=True)
class FaceFrame:
    """A face's own coordinates: origin between the eyes, x along the eye line, y down the face,
    both in units of the eye distance."""

    origin: np.ndarray
    across: np.ndarray
    down: np.ndarray
    unit: float
    nose: float
    mouth: float
    """How far down the nose tip and the mouth's centre are, in eye distances."""

    @classmethod
    def of(cls, face: FaceBox) -> FaceFrame:
        right_eye, left_eye, nose, right_mouth, left_mouth = (np.array(p, dtype=np.float64) for p in face.landmarks)
        origin = (right_eye + left_eye) / 2
        eye_line = left_eye - right_eye
        unit = max(float(np.linalg.norm(eye_line)), 1.0)
        across = eye_line / unit
        down = np.array([-across[1], across[0]])
        mouth = (right_mouth + left_mouth) / 2
        return cls(
            origin, across, down, unit, float((nose - origin) @ down) / unit, float((mouth - origin) @ down) / unit
        )

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) face coordinates to image pixels."""
        return self.origin + (points[:, :1] * self.across + points[:, 1:] * self.down) * self.unit


def mask_outline(frame: FaceFrame, style: str, rng: np.random.Generator) -> np.ndarray:
    """The mask's polygon in face coordinates: a slightly curved top with a bulge over the nose,
    straight sides and a rounded bottom under the chin."""
    chin = frame.mouth + (frame.mouth - frame.nose) * 1.25 + 0.15
    half_width = rng.uniform(1.05, 1.25)
    if style == "covering":
        top = frame.nose * rng.uniform(0.35, 0.55)
    elif style == "under_nose":
        top = frame.nose + (frame.mouth - frame.nose) * rng.uniform(0.2, 0.45)
    else:  # on the chin, or hanging: the top edge below the lips
        top = frame.mouth + (chin - frame.mouth) * rng.uniform(0.15, 0.45)
    bottom = chin + rng.uniform(0.05, 0.3)
    if style == "hanging":
        top, bottom = top + 0.4, bottom + 0.6
    columns = np.linspace(-half_width, half_width, 17)
    bulge = 0.18 if style == "covering" else 0.06
    top_edge = np.stack(
        [columns, top + 0.12 * (columns / half_width) ** 2 - bulge * np.exp(-((columns / 0.35) ** 2))], axis=1
    )
    angles = np.linspace(0, math.pi, 17)
    bottom_edge = np.stack(
        [half_width * np.cos(angles), bottom - 0.15 + 0.15 * np.sin(angles) + 0.25 * np.sin(angles) ** 8], axis=1
    )
    outline = np.concatenate([top_edge, bottom_edge])
    if style == "hanging":
        # Hanging from one ear: swung to one side and turned.
        side = rng.choice([-1.0, 1.0])
        angle = side * rng.uniform(0.35, 0.7)
        rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        pivot = np.array([side * half_width, top])
        outline = (outline - pivot) @ rotation.T + pivot + np.array([side * 0.3, 0.2])
    return outline


def fabric(textures: np.ndarray, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A float RGB fabric: a real mask patch stretched over the area, with pleats and weave noise."""
    patch = textures[rng.integers(len(textures))].astype(np.float32)
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    cloth = cv2.resize(patch, (width, height), interpolation=cv2.INTER_LINEAR)
    rows = np.arange(height, dtype=np.float32)[:, None]
    pleats = rng.integers(2, 5)
    # Pleats: bands of shade across the mask, softer on cloth masks than on surgical ones.
    shade = 1.0 + rng.uniform(0.04, 0.14) * np.sin(rows / max(height, 1) * math.pi * 2 * pleats + rng.uniform(0, 6))
    noise = rng.normal(1.0, 0.025, (height, width, 1)).astype(np.float32)
    return np.clip(cloth * shade[..., None] * noise, 0, 255)


def paint(rgb: np.ndarray, face: FaceBox, style: str, textures: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The photo with a mask painted on `face` in `style`."""
    frame = FaceFrame.of(face)
    outline = frame.to_image(mask_outline(frame, style, rng))
    height, width = rgb.shape[:2]
    coverage = np.zeros((height, width), dtype=np.float32)
    cv2.fillPoly(coverage, [np.round(outline * 4).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=2)
    if not coverage.any():
        return rgb.copy()
    x0, y0 = np.floor(outline.min(axis=0)).astype(int).clip(0)
    x1, y1 = np.ceil(outline.max(axis=0)).astype(int)
    x1, y1 = min(max(x1, x0 + 1), width), min(max(y1, y0 + 1), height)
    cloth = np.zeros((height, width, 3), dtype=np.float32)
    cloth[y0:y1, x0:x1] = fabric(textures, y1 - y0, x1 - x0, rng)
    # The face's own light: the mask darkens where the face is in shadow. Divided by its mean so
    # only the variation transfers, not the skin's colour.
    light = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), frame.unit * 0.35)
    region = light[coverage > 0.5]
    light = np.clip(light / max(float(region.mean()), 1.0), 0.55, 1.35) if region.size else np.ones_like(light)
    # The bulge over the nose: a little brighter along the middle, a little darker at the sides.
    offsets = (np.indices((height, width))[::-1].transpose(1, 2, 0) - frame.origin) @ frame.across / frame.unit
    cloth *= (light * (1.06 - 0.12 * np.clip(np.abs(offsets), 0, 1.5) / 1.5))[..., None]
    alpha = cv2.GaussianBlur(coverage, (0, 0), max(0.6, frame.unit * 0.04))[..., None]
    painted = rgb.astype(np.float32) * (1 - alpha) + cloth * alpha
    _ear_loops(painted, frame, outline, cloth[y0:y1, x0:x1].reshape(-1, 3).mean(axis=0), style, rng)
    return np.clip(painted, 0, 255).astype(np.uint8)


def _ear_loops(
    canvas: np.ndarray, frame: FaceFrame, outline: np.ndarray, colour: np.ndarray, style: str, rng: np.random.Generator
) -> None:
    """Two loops from the mask's upper and lower corners, curving back to where the ear is."""
    thickness = max(1, round(frame.unit * 0.06))
    shade = tuple(float(v) for v in np.clip(colour * rng.uniform(0.8, 1.1), 0, 255))
    corners = {-1: (outline[0], outline[-1]), 1: (outline[16], outline[17])}
    sides = [rng.choice([-1, 1])] if style == "hanging" else [-1, 1]
    for side in sides:
        ear = frame.to_image(np.array([[side * 1.55, frame.nose * 0.6]]))[0]
        for start in corners[side]:
            bend = (start + ear) / 2 + frame.down * frame.unit * rng.uniform(-0.1, 0.15)
            t = np.linspace(0, 1, 12)[:, None]
            curve = (1 - t) ** 2 * start + 2 * (1 - t) * t * bend + t**2 * ear
            cv2.polylines(
                canvas, [np.round(curve * 4).astype(np.int32)], False, shade, thickness, lineType=cv2.LINE_AA, shift=2
            )


def degrade(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Like a real photo: sometimes blurred, shrunk to crowd sizes, or JPEG compressed hard."""
    out = rgb
    if rng.random() < 0.3:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.5))
    if rng.random() < 0.3:
        side = int(rng.integers(24, 65))
        small = cv2.resize(out, (side, side), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, out.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        _, encoded = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 80))])
        out = np.asarray(cv2.imdecode(encoded, cv2.IMREAD_COLOR))[..., ::-1]
    return np.ascontiguousarray(out)


def square_crop(rgb: np.ndarray, face: FaceBox, margin: float = CROP_MARGIN, side: int = OUT_SIDE) -> np.ndarray:
    """The square around the face that the bot would take, a little wider, resized to `side`."""
    x, y, size = square_around(rgb, face, margin)
    crop = rgb[y : y + size, x : x + size]
    return cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA if size > side else cv2.INTER_LINEAR)


def mask_textures(paths: list[Path], limit: int = 400) -> np.ndarray:
    """Patches of real masks: the area between the mouth corners, from nose to below the lips,
    of photos labelled with_mask, where the face finder found the face."""
    detector = process_detector()
    patches: list[np.ndarray] = []
    for path in paths:
        if len(patches) >= limit:
            break
        rgb = decode_image(path, min_side=1).pixels
        face = detector.largest_face(rgb)
        if face is None or face.side < MIN_FACE_SIDE:
            continue
        frame = FaceFrame.of(face)
        corners = frame.to_image(np.array([[-0.6, frame.nose * 0.8], [0.6, frame.mouth + 0.35]]))
        (x0, y0), (x1, y1) = np.round(corners.min(axis=0)).astype(int), np.round(corners.max(axis=0)).astype(int)
        if x0 < 0 or y0 < 0 or x1 > rgb.shape[1] or y1 > rgb.shape[0] or x1 - x0 < 8 or y1 - y0 < 8:
            continue
        patches.append(cv2.resize(rgb[y0:y1, x0:x1], (TEXTURE_SIDE, TEXTURE_SIDE), interpolation=cv2.INTER_AREA))
    if not patches:
        raise ValueError("no mask texture found: the with_mask photos had no face large enough")
    return np.stack(patches)


def synthesise(
    bare: list[tuple[str, Path]],
    mask_photos: list[Path],
    out_dir: Path,
    seed: int = 7,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Paint every bare face in `bare` ((source name, path) pairs) both ways into `out_dir`.

    Writes `with_mask/` and `mask_weared_incorrect/` images, `manifest.csv` (file, label, source,
    style) and `contact.jpg`; returns counts per label. The same inputs and seed give the same files."""
    rng = np.random.default_rng(seed)
    textures = mask_textures([mask_photos[i] for i in rng.permutation(len(mask_photos))])
    order = rng.permutation(len(bare))
    detector = process_detector()
    for name in (CLASS_NAMES[0], CLASS_NAMES[2]):
        (out_dir / name).mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, str]] = []
    sheet: list[np.ndarray] = []
    for done, index in enumerate(order):
        if limit is not None and len(rows) >= 2 * limit:
            break
        source, path = bare[index]
        face_rng = np.random.default_rng([seed, int(index)])
        rgb = decode_image(path, min_side=1).pixels
        face = detector.largest_face(rgb)
        if face is not None and face.side >= MIN_FACE_SIDE:
            stem = f"{len(rows) // 2:05d}"
            # One fabric for both versions: where the mask sits is the only difference.
            fabric_of_face = textures[face_rng.integers(len(textures))][np.newaxis]
            for label, style in (
                (CLASS_NAMES[0], "covering"),
                (CLASS_NAMES[2], INCORRECT_STYLES[face_rng.integers(len(INCORRECT_STYLES))]),
            ):
                # The same blur, size and compression for both versions of a face.
                image = degrade(
                    square_crop(paint(rgb, face, style, fabric_of_face, face_rng), face),
                    np.random.default_rng([seed, int(index), 1]),
                )
                file = f"{label}/{stem}.jpg"
                cv2.imwrite(str(out_dir / file), image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
                rows.append({"file": file, "label": label, "source": source, "style": style})
                if len(sheet) < 64:
                    sheet.append(image)
        if progress is not None:
            progress(done + 1, len(order))
    with (out_dir / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "label", "source", "style"])
        writer.writeheader()
        writer.writerows(rows)
    if sheet:
        contact_sheet(sheet, out_dir / "contact.jpg")
    return {label: sum(row["label"] == label for row in rows) for label in (CLASS_NAMES[0], CLASS_NAMES[2])}


def contact_sheet(images: list[np.ndarray], path: Path, columns: int = 8, side: int = 128) -> None:
    """Pairs side by side (with_mask, then incorrect, of the same face), to look at before training."""
    tiles = [cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA) for image in images]
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % columns)
    rows = [np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)]
    cv2.imwrite(str(path), np.vstack(rows)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 88])


def read_sources(out_dir: Path) -> dict[str, str]:
    """Synthetic file -> the source face it was painted on ("<folder>/<class>/<file>")."""
    with (Path(out_dir) / "manifest.csv").open(newline="") as handle:
        return {row["file"]: row["source"] for row in csv.DictReader(handle)}


def training_photos(
    data_dirs: list[Path], split_from: Path | None, seed: int = 7, say: Callable[[str], None] = print
) -> tuple[list[tuple[str, Path]], list[Path]]:
    """Bare faces to paint and real masked photos to take fabric from, training parts only.

    Splits come from `split_from` (a model folder) where it has them, named as training names
    them (the first folder's `split.json`, then `split-<folder>.json`), else they are made the same
    way training makes them, so a training run with the same folders keeps these faces in training."""
    from training.dataset import fingerprint, list_images, load_or_make_split, split_file_name

    bare, masked = [], []
    for index, data_dir in enumerate(data_dirs):
        items = list_images(data_dir)
        reused = None if split_from is None else Path(split_from) / split_file_name(data_dir, index == 0)
        split = load_or_make_split(Path(data_dir), reused, fingerprint(items), seed, say)
        name = Path(data_dir).resolve().name
        for item in items:
            if split.parts.get(item.relative, "train") != "train":
                continue
            if CLASS_NAMES[item.label] == "without_mask":
                bare.append((f"{name}/{item.relative}", item.path))
            elif CLASS_NAMES[item.label] == "with_mask":
                masked.append(item.path)
    return bare, masked
