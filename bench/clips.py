"""How to judge a clip: its best frame alone, or a vote across its frames, on generated clips.

Each face photo (of a fixed split part, with `--split`) is filmed by `tests.support.clips.panned_clip` (480 px square,
3 s at 10 frames a second, zooming in by half and panning, some frames smeared by shaking) and
judged three ways: the photo itself through the bot's path; the clip's best frame alone (the
sharpest of the sampled frames showing the largest face, `model.video.choose`) through the
photo path; and as the bot does (`model.video.predict_clip`): that frame, with the verdict voted
by the mean of the calibrated probabilities of the largest face in every sampled frame. Prints
balanced accuracy, recall per class, the share refused, and the share of confident answers with
their accuracy, per way.

    python -m bench.clips ../shared/data/ilc3 --model model/shipped/v2 \
        --split model/shipped/v2/split-ilc3.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

from model import CLASS_NAMES
from model.images import ImageError
from model.predictor import Prediction, Predictor
from model.video import choose, encode_bmp, predict_clip
from tests.support.clips import panned_clip
from training.dataset import list_images
from training.metrics import balanced_accuracy, confusion_matrix


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.clips", description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="a class-folder data set, such as ilc3")
    parser.add_argument("--model", required=True)
    parser.add_argument("--split", help="the data set's fixed split (split-<folder>.json); default: every photo")
    parser.add_argument("--part", default="test", choices=("train", "val", "test"))
    parser.add_argument("--blurred", type=float, default=0.4, help="share of each clip's frames smeared by shaking")
    parser.add_argument("--limit", type=int, default=0, help="at most this many photos (0: all)")
    parser.add_argument("--seed", type=int, default=0, help="of the clips' pans and shakes")
    args = parser.parse_args(argv)

    predictor = Predictor(args.model)
    items = list_images(args.data)
    if args.split:
        parts = json.loads(Path(args.split).read_text())["parts"]
        items = [item for item in items if parts.get(item.relative) == args.part]
    if args.limit:
        items = items[: args.limit]
    ways = ("photo", "best frame", "vote (bot)")
    answers: dict[str, list[tuple[int, np.ndarray | None]]] = {way: [] for way in ways}
    """Per way: (true label, calibrated probabilities or None when refused)."""
    seconds = dict.fromkeys(ways, 0.0)

    def largest(data: bytes) -> Prediction | None:
        try:
            return predictor.predict_photo(data).faces[0]
        except ImageError:
            return None

    for index, item in enumerate(items):
        picture = np.asarray(Image.open(item.path).convert("RGB"))
        clip = panned_clip(picture, blurred=args.blurred, seed=args.seed + index)
        started = time.perf_counter()
        face = largest(item.path.read_bytes())
        seconds["photo"] += time.perf_counter() - started
        answers["photo"].append((item.label, None if face is None else vector(face)))

        started = time.perf_counter()
        try:
            face = largest(encode_bmp(choose(clip, predictor.detector.faces).frame))
        except ImageError:
            face = None
        seconds["best frame"] += time.perf_counter() - started
        answers["best frame"].append((item.label, None if face is None else vector(face)))

        started = time.perf_counter()
        try:
            face = predict_clip(clip, predictor).faces[0]
        except ImageError:
            face = None
        seconds["vote (bot)"] += time.perf_counter() - started
        answers["vote (bot)"].append((item.label, None if face is None else vector(face)))

    print(
        f"{args.model} on {len(items)} clips of {args.data}{f' {args.part}' if args.split else ''} "
        f"(480 px, 3 s at 10 fps, {args.blurred:.0%} of frames shaken)"
    )
    print(
        f"{'way':<12}{'bal. acc.':>10}{'recall with / without / incorrect':>36}{'refused':>9}{'sure':>7}"
        f"{'right when sure':>17}{'ms a clip':>11}"
    )
    for way in ways:
        judged = [(label, row) for label, row in answers[way] if row is not None]
        truth = np.array([label for label, _ in judged])
        rows = np.array([row for _, row in judged])
        matrix = confusion_matrix(truth, rows.argmax(axis=1))
        sure = rows.max(axis=1) >= predictor.threshold
        right = rows.argmax(axis=1) == truth
        print(
            f"{way:<12}{balanced_accuracy(matrix):>10.3f}{recalls(matrix):>36}{1 - len(judged) / len(items):>9.1%}"
            f"{sure.mean():>7.1%}{right[sure].mean():>17.1%}{seconds[way] / len(items) * 1000:>11.0f}"
        )
    return 0


def recalls(matrix: np.ndarray) -> str:
    return " / ".join(f"{row[i] / row.sum():.3f}" if row.sum() else "-" for i, row in enumerate(matrix))


def vector(face: Prediction) -> np.ndarray:
    return np.array([face.probabilities[name] for name in CLASS_NAMES])


if __name__ == "__main__":
    raise SystemExit(main())
