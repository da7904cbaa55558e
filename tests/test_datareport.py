"""`maskbot data report` on small folders built here, with known duplicates and broken files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from training.datareport import build_report


def photo(seed: int, size=(120, 90)) -> Image.Image:
    """Two flat colours with a little noise, each in the middle of a signature bin, so that
    re-encoding moves no pixel to another bin and only real edits change the signature."""
    rng = np.random.default_rng(seed)
    pixels = rng.normal(0, 3, (size[1], size[0], 3)) + 32 * rng.integers(0, 8, 3) + 16
    pixels[: size[1] // 3] = 32 * rng.integers(0, 8, 3) + 16
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def build_folder(root: Path) -> Path:
    with_mask, without, incorrect = (root / n for n in ("with_mask", "without_mask", "mask_weared_incorrect"))
    for folder in (with_mask, without, incorrect):
        folder.mkdir(parents=True)
    for i in range(4):
        photo(i).save(with_mask / f"w{i}.jpg", quality=95)
    (with_mask / "w0_copy.jpg").write_bytes((with_mask / "w0.jpg").read_bytes())  # exact duplicate
    photo(1).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(with_mask / "w1_mirrored.png")  # near duplicate
    for i in range(10, 13):
        photo(i).save(without / f"n{i}.jpg", quality=95)
    (without / "mislabelled.jpg").write_bytes((with_mask / "w2.jpg").read_bytes())  # one photo, two labels
    photo(20).convert("L").save(incorrect / "gray.png")
    photo(21).convert("CMYK").save(incorrect / "cmyk.jpg")
    photo(22).convert("P").save(incorrect / "palette.gif")
    (incorrect / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return root


def test_report_counts_groups_and_flags_the_broken_file(tmp_path):
    data = build_folder(tmp_path / "data")
    report, (summary,), shared = build_report(data, tmp_path / "out", progress=lambda _: None)
    classes = summary["classes"]
    assert {k: v["images"] for k, v in classes.items()} == {
        "with_mask": 6,
        "without_mask": 4,
        "mask_weared_incorrect": 4,
    }
    assert summary["images"] == 14
    assert [u["file"] for u in summary["unreadable"]] == ["mask_weared_incorrect/broken.jpg"]
    assert classes["mask_weared_incorrect"]["modes"] == {"L": 1, "CMYK": 1, "P": 1}
    assert classes["mask_weared_incorrect"]["formats"] == {"PNG": 1, "JPEG": 1, "GIF": 1}
    assert classes["with_mask"]["width"] == {"mean": 120, "median": 120, "min": 120, "max": 120}
    assert sorted(map(sorted, summary["exact_duplicates"])) == [
        ["with_mask/w0.jpg", "with_mask/w0_copy.jpg"],
        ["with_mask/w2.jpg", "without_mask/mislabelled.jpg"],
    ]
    near = {tuple(g) for g in summary["near_duplicate_groups"]}
    assert ("with_mask/w1.jpg", "with_mask/w1_mirrored.png") in near
    assert ["with_mask/w2.jpg", "without_mask/mislabelled.jpg"] in summary["cross_class_groups"]
    assert shared is None
    text = report.read_text()
    assert "contact-data-with_mask.png" in text and "histograms.png" in text
    for picture in ("contact-data-with_mask.png", "contact-data-mask_weared_incorrect.png", "histograms.png"):
        assert Image.open(tmp_path / "out" / picture).size[0] > 100


def test_compare_lists_the_images_found_in_both(tmp_path):
    first = build_folder(tmp_path / "first")
    second = tmp_path / "second" / "with_mask"
    second.mkdir(parents=True)
    (second / "same.jpg").write_bytes((first / "with_mask" / "w3.jpg").read_bytes())
    photo(3).save(second / "reuploaded.jpg", quality=70)  # the same photo re-encoded: a re-upload
    photo(99).save(second / "new.jpg")
    _, summaries, shared = build_report(first, tmp_path / "out", compare=tmp_path / "second", progress=lambda _: None)
    assert len(summaries) == 2
    assert sorted((s["file"], s["also_in"], s["kind"]) for s in shared) == [
        ("with_mask/reuploaded.jpg", "with_mask/w3.jpg", "near"),
        ("with_mask/same.jpg", "with_mask/w3.jpg", "exact"),
    ]


def test_the_command_prints_the_report(tmp_path):
    data = build_folder(tmp_path / "data")
    result = subprocess.run(
        [sys.executable, "-m", "cli", "data", "report", str(data), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "# Data report" in result.stdout and "Unreadable files" in result.stdout
    assert json.loads((tmp_path / "out" / "report.json").read_text())["folders"][0]["images"] == 14
