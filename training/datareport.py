"""The report's data exploration as one command: counts, sizes, duplicates, faces, pictures.

Everything is computed from the files alone (no labels beyond the folder names), so an operator
can run it on a new folder before trusting it for training or testing.
"""

from __future__ import annotations

import hashlib
import random
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from model import CLASS_NAMES
from model.images import IMAGE_SUFFIXES
from training.dataset import NEAR_DUPLICATE_SIMILARITY, colour_signature, near_duplicate_groups

FACE_SAMPLE = 200
"""Faces are searched on this many random photos per class: the detector is the slow part."""
SHEET_SIDE = 6
THUMB = 96


@dataclass
class ImageFacts:
    path: Path
    label: str
    readable: bool
    error: str = ""
    format: str = ""
    mode: str = ""
    width: int = 0
    height: int = 0
    size_bytes: int = 0
    sha1: str = ""
    signature: np.ndarray | None = None

    @property
    def name(self) -> str:
        return f"{self.label}/{self.path.name}"


def class_folders(data_dir: Path) -> list[tuple[str, Path]]:
    """Known class folders first, in the usual order, then any other sub-folder."""
    folders = [p for p in sorted(Path(data_dir).iterdir()) if p.is_dir() and not p.name.startswith(".")]
    order = {name: i for i, name in enumerate(CLASS_NAMES)}
    return [(p.name, p) for p in sorted(folders, key=lambda p: (order.get(p.name, len(order)), p.name))]


def inspect_file(job: tuple[Path, str]) -> ImageFacts:
    path, label = job
    data = path.read_bytes()
    facts = ImageFacts(path, label, False, size_bytes=len(data), sha1=hashlib.sha1(data).hexdigest())
    try:
        with Image.open(path) as image:
            facts.format, facts.mode = image.format or "", image.mode
            facts.width, facts.height = image.size
            facts.signature = colour_signature(image)
    except Exception as error:  # any decoder failure makes the file "unreadable", never fatal
        facts.error = f"{type(error).__name__}: {error}"[:200]
        return facts
    facts.readable = True
    return facts


def find_face(path: Path) -> float | None:
    """Face area as a share of the frame, or None when the detector finds none."""
    from model.faces import process_detector
    from model.images import decode_image

    try:
        rgb = decode_image(path, min_side=1).pixels
    except Exception:
        return None
    box = process_detector().largest_face(rgb)
    return None if box is None else box.area / float(rgb.shape[0] * rgb.shape[1])


@dataclass
class FolderScan:
    root: Path
    images: list[ImageFacts]
    faces: dict[str, list[float | None]]

    def by_class(self) -> dict[str, list[ImageFacts]]:
        grouped: dict[str, list[ImageFacts]] = defaultdict(list)
        for facts in self.images:
            grouped[facts.label].append(facts)
        return grouped


def scan(data_dir: Path, workers: int = 2, seed: int = 0, progress: Callable[[str], None] = print) -> FolderScan:
    jobs = [
        (path, label)
        for label, folder in class_folders(data_dir)
        for path in sorted(folder.iterdir())
        if path.is_file() and (path.suffix.lower() in IMAGE_SUFFIXES or not path.suffix)
    ]
    started = time.time()
    images: list[ImageFacts] = []
    with get_context("fork").Pool(workers) as pool:
        for done, facts in enumerate(pool.imap(inspect_file, jobs, chunksize=64), 1):
            images.append(facts)
            if done % 2000 == 0 or done == len(jobs):
                progress(f"  {data_dir.name}: read {done}/{len(jobs)} files ({time.time() - started:.0f} s)")
        rng = random.Random(seed)
        faces: dict[str, list[float | None]] = {}
        for label, _ in class_folders(data_dir):
            readable = [f.path for f in images if f.label == label and f.readable]
            sample = rng.sample(readable, min(FACE_SAMPLE, len(readable)))
            faces[label] = pool.map(find_face, sample, chunksize=8)
    progress(
        f"  {data_dir.name}: faces searched on up to {FACE_SAMPLE} photos per class ({time.time() - started:.0f} s)"
    )
    return FolderScan(Path(data_dir), images, faces)


def describe(values: list[float]) -> dict[str, float]:
    if not values:
        return {"mean": 0.0, "median": 0.0, "min": 0.0, "max": 0.0}
    return {
        "mean": statistics.fmean(values),
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
    }


def duplicates(images: list[ImageFacts]) -> tuple[list[list[ImageFacts]], list[list[ImageFacts]]]:
    """(exact duplicate sets, near-duplicate groups of two or more), each sorted by name."""
    by_hash: dict[str, list[ImageFacts]] = defaultdict(list)
    for facts in images:
        by_hash[facts.sha1].append(facts)
    exact = sorted(
        (sorted(group, key=lambda f: f.name) for group in by_hash.values() if len(group) > 1), key=lambda g: g[0].name
    )
    readable = [f for f in images if f.readable]
    if not readable:
        return exact, []
    groups = near_duplicate_groups(signatures(readable), NEAR_DUPLICATE_SIMILARITY)
    near: dict[int, list[ImageFacts]] = defaultdict(list)
    for facts, group in zip(readable, groups, strict=True):
        near[int(group)].append(facts)
    near_groups = sorted(
        (sorted(g, key=lambda f: f.name) for g in near.values() if len(g) > 1), key=lambda g: g[0].name
    )
    return exact, near_groups


def summarise(folder: FolderScan) -> dict:
    """All the figures of one folder, as plain data (the report's JSON)."""
    per_class = folder.by_class()
    total = len(folder.images)
    exact, near = duplicates(folder.images)
    summary: dict[str, Any] = {
        "folder": str(folder.root),
        "images": total,
        "classes": {},
        "unreadable": [],
        "exact_duplicates": [[f.name for f in g] for g in exact],
        "near_duplicate_groups": [[f.name for f in g] for g in near],
        "cross_class_groups": [[f.name for f in g] for g in near if len({f.label for f in g}) > 1]
        + [[f.name for f in g] for g in exact if len({f.label for f in g}) > 1],
    }
    for label, items in per_class.items():
        readable = [f for f in items if f.readable]
        faces = folder.faces.get(label, [])
        found = [share for share in faces if share is not None]
        summary["classes"][label] = {
            "images": len(items),
            "share": len(items) / total if total else 0.0,
            "formats": dict(Counter(f.format for f in readable)),
            "modes": dict(Counter(f.mode for f in readable)),
            "width": describe([f.width for f in readable]),
            "height": describe([f.height for f in readable]),
            "aspect_ratio": describe([f.width / f.height for f in readable if f.height]),
            "file_kb": describe([f.size_bytes / 1024 for f in items]),
            "faces_searched": len(faces),
            "faces_found": len(found),
            "face_share_of_frame": describe(found),
        }
        summary["unreadable"].extend({"file": f.name, "error": f.error} for f in items if not f.readable)
    return summary


def signatures(images: list[ImageFacts]) -> np.ndarray:
    """The colour signatures of readable images, one row each."""
    return np.stack([f.signature for f in images if f.signature is not None])


def shared_images(first: FolderScan, second: FolderScan) -> list[dict]:
    """Images of `second` that also appear in `first`: byte-identical or near-duplicates."""
    found: list[dict[str, Any]] = []
    hashes = {f.sha1: f for f in first.images}
    for facts in second.images:
        if facts.sha1 in hashes:
            found.append({"file": facts.name, "also_in": hashes[facts.sha1].name, "kind": "exact"})
    a = [f for f in first.images if f.readable]
    b = [f for f in second.images if f.readable and f.sha1 not in hashes]
    if a and b:
        left = signatures(a)
        for start in range(0, len(b), 512):
            chunk = b[start : start + 512]
            similarity = signatures(chunk) @ left.T
            best = similarity.argmax(axis=1)
            for facts, index, row in zip(chunk, best, similarity, strict=True):
                if row[index] >= NEAR_DUPLICATE_SIMILARITY:
                    found.append(
                        {
                            "file": facts.name,
                            "also_in": a[index].name,
                            "kind": "near",
                            "similarity": round(float(row[index]), 4),
                        }
                    )
    return found


def contact_sheet(folder: FolderScan, label: str, path: Path, seed: int = 0) -> None:
    readable = [f for f in folder.by_class()[label] if f.readable]
    sample = random.Random(seed).sample(readable, min(SHEET_SIDE * SHEET_SIDE, len(readable)))
    thumbs = []
    for facts in sample:
        with Image.open(facts.path) as image:
            image.draft("RGB", (THUMB * 2, THUMB * 2))
            thumbs.append(image.convert("RGB"))
    draw_sheet(thumbs).save(path)


CAPTION_HEIGHT = 24


def draw_sheet(images: list[Image.Image], captions: list[tuple[str, ...]] | None = None) -> Image.Image:
    """SHEET_SIDE thumbnails a row, each centred in its THUMB square, with up to two short lines
    of caption under it when `captions` are given."""
    below = CAPTION_HEIGHT if captions else 0
    rows = max(1, -(-len(images) // SHEET_SIDE))
    sheet = Image.new("RGB", (SHEET_SIDE * THUMB, rows * (THUMB + below)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, image in enumerate(images):
        thumb = image.convert("RGB")
        thumb.thumbnail((THUMB, THUMB))
        x, y = (i % SHEET_SIDE) * THUMB, (i // SHEET_SIDE) * (THUMB + below)
        sheet.paste(thumb, (x + (THUMB - thumb.width) // 2, y + (THUMB - thumb.height) // 2))
        for line, text in enumerate((captions[i] if captions else ())[:2]):
            draw.text((x + 2, y + THUMB + line * 11), text[:16], fill=(0, 0, 0))
    return sheet


def histograms(scans: list[FolderScan], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measures = (
        ("width (px)", lambda f: f.width),
        ("height (px)", lambda f: f.height),
        ("aspect ratio (w/h)", lambda f: f.width / f.height if f.height else 0.0),
        ("file size (KB)", lambda f: f.size_bytes / 1024),
    )
    figure, axes = plt.subplots(len(scans), len(measures), figsize=(4 * len(measures), 3 * len(scans)), squeeze=False)
    for row, folder in enumerate(scans):
        for column, (title, measure) in enumerate(measures):
            axis = axes[row][column]
            for label, items in folder.by_class().items():
                values = [measure(f) for f in items if f.readable]
                if values:
                    axis.hist(values, bins=30, alpha=0.5, label=label)
            axis.set_title(f"{folder.root.name}: {title}", fontsize=9)
            if column == 0:
                axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def _table_rows(summary: dict) -> list[str]:
    rows = []
    for label, c in summary["classes"].items():
        rows.append(
            f"| {label} | {c['images']} | {c['share']:.1%} | {c['width']['mean']:.0f} / {c['width']['median']:.0f} "
            f"({c['width']['min']:.0f}-{c['width']['max']:.0f}) | {c['height']['mean']:.0f} / "
            f"{c['height']['median']:.0f} ({c['height']['min']:.0f}-{c['height']['max']:.0f}) | "
            f"{c['aspect_ratio']['mean']:.2f} / {c['aspect_ratio']['median']:.2f} | "
            f"{c['file_kb']['mean']:.1f} / {c['file_kb']['median']:.1f} | "
            f"{c['faces_found']}/{c['faces_searched']} ({c['faces_found'] / max(c['faces_searched'], 1):.0%}) | "
            f"{c['face_share_of_frame']['median']:.1%} |"
        )
    return rows


def render_text(summaries: list[dict], shared: list[dict] | None) -> str:
    """The Markdown report; also what the command prints."""
    lines = ["# Data report", ""]
    for summary in summaries:
        name = Path(summary["folder"]).name
        lines += [
            f"## {name}",
            "",
            f"{summary['images']} files in `{summary['folder']}`; "
            f"{len(summary['unreadable'])} unreadable, {len(summary['exact_duplicates'])} exact duplicate "
            f"sets, {len(summary['near_duplicate_groups'])} near-duplicate groups, "
            f"{len(summary['cross_class_groups'])} of them across classes.",
            "",
            "| class | images | share | width mean / median (min-max) | height mean / median (min-max) | "
            "aspect mean / median | KB mean / median | faces found | face median share of frame |",
            "|---|---|---|---|---|---|---|---|---|",
            *_table_rows(summary),
            "",
        ]
        for label, c in summary["classes"].items():
            formats = ", ".join(f"{k or '?'} {v}" for k, v in sorted(c["formats"].items()))
            modes = ", ".join(f"{k} {v}" for k, v in sorted(c["modes"].items()))
            lines.append(f"- {label}: formats {formats or '-'}; colour modes {modes or '-'}")
        lines.append("")
        if summary["unreadable"]:
            lines += ["Unreadable files:", *[f"- `{u['file']}`: {u['error']}" for u in summary["unreadable"]], ""]
        if summary["cross_class_groups"]:
            lines += [
                "The same photo under two labels (check these labels):",
                *[f"- {', '.join(f'`{n}`' for n in group[:6])}" for group in summary["cross_class_groups"][:50]],
                "",
            ]
        if summary["exact_duplicates"]:
            lines += [
                "Exact duplicates (first 20 sets):",
                *[f"- {', '.join(f'`{n}`' for n in group)}" for group in summary["exact_duplicates"][:20]],
                "",
            ]
        biggest = sorted(summary["near_duplicate_groups"], key=len, reverse=True)[:10]
        if biggest:
            lines += [
                "Largest near-duplicate groups:",
                *[f"- {len(group)} images, e.g. {', '.join(f'`{n}`' for n in group[:3])}" for group in biggest],
                "",
            ]
        lines += [f"![{label}](contact-{name}-{label}.png)" for label in summary["classes"]] + [""]
    lines += ["## Distributions", "", "![histograms](histograms.png)", ""]
    if shared is not None:
        exact = sum(1 for s in shared if s["kind"] == "exact")
        lines += [
            "## Images in both folders",
            "",
            f"{len(shared)} images of the second folder also appear in the first ({exact} byte-identical, "
            f"{len(shared) - exact} near-duplicates).",
            "",
            *[f"- `{s['file']}` = `{s['also_in']}` ({s['kind']})" for s in shared[:100]],
            "",
        ]
    return "\n".join(lines)


def build_report(
    data_dir: Path,
    out_dir: Path,
    compare: Path | None = None,
    workers: int = 2,
    progress: Callable[[str], None] = print,
) -> tuple[Path, list[dict], list[dict] | None]:
    import json

    out_dir.mkdir(parents=True, exist_ok=True)
    scans = [scan(data_dir, workers, progress=progress)]
    if compare is not None:
        scans.append(scan(compare, workers, progress=progress))
    summaries = [summarise(folder) for folder in scans]
    shared = shared_images(scans[0], scans[1]) if compare is not None else None
    for folder in scans:
        for label in folder.by_class():
            contact_sheet(folder, label, out_dir / f"contact-{folder.root.name}-{label}.png")
    histograms(scans, out_dir / "histograms.png")
    report = out_dir / "report.md"
    report.write_text(render_text(summaries, shared))
    (out_dir / "report.json").write_text(json.dumps({"folders": summaries, "shared": shared}, indent=1))
    return report, summaries, shared
