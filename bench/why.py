"""How often the "Why?" sentence agrees with the truth, and what its picture and a press cost.

Each face photo of a fixed split part goes through the bot's path (decode, find faces, crop,
classify, `Predictor.predict_photo`); for the faces judged right, the sentence names a region of
the face (`model.explain.region`). It agrees with the truth when that region is where the class's
evidence lies: the nose, mouth or chin, which a mask covers when it is worn, leaves bare when it is
not, and leaves partly bare when it is worn below the nose. "Your eyes" or "outside your face" is
no explanation of a mask verdict, so those count as disagreeing.

A press keeps nothing from the answer: it judges the photo again and explains the same face
(`model.explain.explain_again`), so its CPU time is timed too (the download is not: it depends on
the Bot API).

    python -m bench.why --model model/shipped/v2 --split model/shipped/v2/split-ilc3.json \
        ../shared/data/ilc3
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from pathlib import Path

from model import CLASS_NAMES
from model.explain import MASK_REGIONS, REGIONS, evidence, explain, explain_again, region, upsample
from model.images import ImageError
from model.predictor import Predictor
from training.dataset import list_images
from training.speed import percentile


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.why", description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="a class-folder data set, such as ilc3")
    parser.add_argument("--model", required=True, help="a model folder whose model.onnx gives class maps")
    parser.add_argument("--split", required=True, help="the data set's fixed split (split-<folder>.json)")
    parser.add_argument("--part", default="test", choices=("train", "val", "test"))
    args = parser.parse_args(argv)

    predictor = Predictor(args.model)
    parts = json.loads(Path(args.split).read_text())["parts"]
    items = [item for item in list_images(args.data) if parts.get(item.relative) == args.part]
    regions: dict[str, Counter[str]] = {name: Counter() for name in CLASS_NAMES}
    refused = wrong = 0
    times_ms, press_ms, sizes = [], [], []
    for item in items:
        try:
            photo = predictor.predict_photo(item.path)
        except ImageError:
            refused += 1
            continue
        face = photo.faces[0]
        if not face.explainable:
            raise SystemExit(f"{args.model}'s model.onnx gives no class maps: export it again")
        if face.label != CLASS_NAMES[item.label]:
            wrong += 1
            continue
        assert face.class_maps is not None  # explainable
        started = time.perf_counter()
        picture = explain(face.pixels, face.class_maps, face.label, face.crop_landmarks).picture
        times_ms.append((time.perf_counter() - started) * 1000)
        sizes.append(len(picture))
        heat = upsample(evidence(face.class_maps, face.label), face.pixels.shape[0])
        share = None if face.face is None else face.face.side / max(photo.width, photo.height)
        data = item.path.read_bytes()
        started = time.perf_counter()
        explain_again(predictor.predict_photo(data), 1, share, face.label)
        press_ms.append((time.perf_counter() - started) * 1000)
        regions[face.label][region(heat, face.crop_landmarks)] += 1

    right = sum(sum(counts.values()) for counts in regions.values())
    agree = sum(counts[name] for counts in regions.values() for name in MASK_REGIONS)
    print(f"{args.model} on {args.data} {args.part}: {len(items)} photos, {refused} refused, {wrong} judged wrong")
    print(f"{'class':<24}{'right':>7}{'agree':>8}  " + "  ".join(f"{name:>14}" for name in REGIONS))
    for name, counts in regions.items():
        total = sum(counts.values())
        agreeing = sum(counts[region_name] for region_name in MASK_REGIONS)
        print(
            f"{name:<24}{total:>7}{agreeing / max(total, 1):>8.1%}  "
            + "  ".join(f"{counts[region_name]:>14}" for region_name in REGIONS)
        )
    print(f"the sentence agrees with the truth for {agree} of {right} faces judged right: {agree / max(right, 1):.1%}")
    if times_ms:
        ordered = sorted(times_ms)
        print(
            f'"Why?" picture and sentence: p50 {statistics.median(ordered):.2f} ms, '
            f"p95 {percentile(ordered, 0.95):.2f} ms over {len(ordered)} faces; "
            f"JPEG {statistics.median(sizes) / 1024:.0f} KB median, {max(sizes) / 1024:.0f} KB largest"
        )
        ordered = sorted(press_ms)
        print(
            f'a "Why?" press (the photo judged again, then explained): p50 {statistics.median(ordered):.1f} ms, '
            f"p95 {percentile(ordered, 0.95):.1f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
