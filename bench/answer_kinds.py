"""Which kind of answer real photos get: the one-face answer, the one-face answer about a main face
with people in the background, or the group answer (`PhotoPrediction.main_face`, `is_group`).

Two kinds of photos from ilc3: its group photos (`scenes/`, two labelled faces or more), and its
one-person photos, those whose manifest names one labelled face, sent as their stored crops (the
face with a quarter of its size around it: what of the background the source keeps). "Before" is
the rule of earlier versions, two faces judged make a group answer.

    python -m bench.answer_kinds ../shared/data/ilc3
"""

from __future__ import annotations

import argparse
import csv
from collections import Counter
from pathlib import Path

from model.images import ImageError
from model.predictor import MAIN_FACE_RATIO, PhotoPrediction, Predictor
from model.registry import SHIPPED_MODEL


def kind(photo: PhotoPrediction | None) -> tuple[str, str]:
    """(the answer before, the answer now) for one photo; ("no face", "no face") without one."""
    if photo is None:
        return "no face", "no face"
    before = "group" if len(photo.faces) >= 2 else "one face"
    if photo.is_group:
        return before, "group"
    return before, "main face and background" if photo.background else "one face"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.answer_kinds", description=__doc__.split("\n\n")[0])
    parser.add_argument("ilc3", help="the ilc3 data folder (manifest.csv and scenes/)")
    parser.add_argument("--model", default=str(SHIPPED_MODEL))
    args = parser.parse_args(argv)
    predictor = Predictor(args.model)
    root = Path(args.ilc3)
    with (root / "manifest.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    faces_per_photo = Counter(row["photo"] for row in rows)
    sets = {
        "one-person photos": [root / row["file"] for row in rows if faces_per_photo[row["photo"]] == 1],
        "group photos": sorted((root / "scenes").glob("*.jpg")),
    }
    print(f"main face: at least {MAIN_FACE_RATIO} times every other face")
    for name, paths in sets.items():
        counts: Counter[tuple[str, str]] = Counter()
        for path in paths:
            try:
                photo = predictor.predict_photo(path)
            except ImageError:  # no face, or too small: refused alike before and now
                photo = None
            counts[kind(photo)] += 1
        print(f"\n{name}: {len(paths)}")
        for (before, now), count in sorted(counts.items()):
            print(f"  {count:>5}  before: {before:<10} now: {now}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
