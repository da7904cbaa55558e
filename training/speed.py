"""Inference speed, measured the same way every time and printed as a table.

Medians (p50) and p95 of wall time over `repeats` calls after a warm-up; the report's
`model.predict` path is timed in the same run, so the ratio holds even on a noisy machine.
"""

from __future__ import annotations

import io
import math
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from model import IMAGE_SIZE
from training.drawn_faces import drawn_face, group_photo
from training.runtime import import_tensorflow

if TYPE_CHECKING:
    from model.predictor import Predictor


def time_calls(call: Callable[[], object], repeats: int, warm_up: int = 5) -> dict[str, float]:
    for _ in range(warm_up):
        call()
    durations = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        durations.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": statistics.median(durations), "p95_ms": percentile(durations, 0.95)}


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile: the smallest of `values` that at least `share` of them do not
    exceed (p95 of 20 values: the 19th smallest). Every p95 maskbot prints is this one."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def sample_photo(photos_dir: Path | None, size: tuple[int, int] = (1280, 960)) -> bytes:
    """A 1280x960 JPEG with a face: the first photo of the folder in which a face is found,
    enlarged, when a folder is given, else a drawn face on a textured background."""
    from PIL import Image

    from model.faces import process_detector

    if photos_dir is not None:
        candidates = (p for p in sorted(Path(photos_dir).rglob("*")) if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        image = next(
            resized
            for resized in (Image.open(p).convert("RGB").resize(size) for p in candidates)
            if process_detector().faces(np.asarray(resized))
        )
    else:
        rng = np.random.default_rng(0)
        gradient = np.linspace(40, 220, size[0], dtype=np.float32)[None, :, None]
        noise = rng.normal(0, 12, (size[1], size[0], 3))
        image = Image.fromarray(drawn_face(np.clip(gradient + noise, 0, 255).astype(np.uint8)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def run_benchmarks(
    model_dir: Path,
    baseline_dir: Path | None = None,
    photos_dir: Path | None = None,
    repeats: int = 200,
    say: Callable[[str], None] = print,
    answer: Callable[[Predictor, bytes], object] | None = None,
) -> dict[str, dict[str, float]]:
    """Timings of the report's model and ours, face finding and the whole path. `answer` is the
    bot's work on one photo, from its bytes to its reply's parts (`bot.judging.answer_photo`):
    what "whole path" times; without it, the verdicts alone."""
    import_tensorflow()
    import keras

    from model.images import decode_image
    from model.predictor import DECODE_SIDE, Predictor
    from model.preprocess import to_input
    from training.architectures import report_cnn
    from training.export import keras_predictor

    started = time.perf_counter()
    predictor = Predictor(model_dir)
    load_seconds = time.perf_counter() - started
    network = keras.saving.load_model(Path(model_dir) / "model.keras", compile=False)
    keras_reference = keras_predictor(model_dir)
    rng = np.random.default_rng(1)
    one = rng.integers(0, 256, (1, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    batch = rng.integers(0, 256, (64, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    if baseline_dir is not None:
        baseline = keras.saving.load_model(Path(baseline_dir) / "model.keras", compile=False)
    else:
        baseline = report_cnn()  # weights do not change the arithmetic, so an untrained copy times the same
    results: dict[str, dict[str, float]] = {}
    results["report model.predict, 1 image"] = time_calls(
        lambda: baseline.predict(to_input(one), verbose=0), repeats // 4
    )
    results["report model(x), 1 image"] = time_calls(lambda: baseline(to_input(one), training=False), repeats)
    results["maskbot model.predict, 1 image"] = time_calls(
        lambda: network.predict(to_input(one), verbose=0), repeats // 4
    )
    results["maskbot model(x), 1 image"] = time_calls(lambda: network(to_input(one), training=False), repeats)
    results["maskbot Keras tf.function, 1 image"] = time_calls(lambda: keras_reference.probabilities(one), repeats)
    results[f"maskbot Predictor ({predictor.runtime}), 1 image"] = time_calls(
        lambda: predictor.probabilities(one), repeats
    )
    batch16 = batch[:16]
    results[f"maskbot Predictor ({predictor.runtime}), batch of 16"] = time_calls(
        lambda: predictor.probabilities(batch16), max(repeats // 4, 10)
    )
    batch_timing = time_calls(lambda: predictor.probabilities(batch), max(repeats // 10, 5))
    batch_timing["images_per_s"] = 64 / (batch_timing["p50_ms"] / 1000)
    results[f"maskbot Predictor ({predictor.runtime}), batch of 64"] = batch_timing
    report_batch = time_calls(lambda: baseline.predict(to_input(batch), verbose=0), max(repeats // 20, 3))
    report_batch["images_per_s"] = 64 / (report_batch["p50_ms"] / 1000)
    results["report model.predict, batch of 64"] = report_batch
    photo = sample_photo(photos_dir)
    decoded = decode_image(photo, max_side=DECODE_SIDE).pixels
    results["face finding, 1280x960 JPEG decoded at reduced scale"] = time_calls(
        lambda: predictor.detector.faces(decoded), repeats
    )
    whole_path = answer or (lambda predictor, photo: predictor.predict_photo(photo))
    results["whole path, 1280x960 JPEG"] = time_calls(lambda: whole_path(predictor, photo), max(repeats // 4, 10))
    group = group_photo(10)
    found = len(predictor.predict_photo(group).faces)
    if found != 10:
        raise RuntimeError(f"the benchmark's group photo shows 10 faces, the face finder found {found}")
    results["whole path, 1280x960 JPEG with 10 faces"] = time_calls(
        lambda: whole_path(predictor, group), max(repeats // 4, 10)
    )

    say(
        f"model {predictor.version} from {model_dir}: loaded in {load_seconds:.2f} s "
        f"({predictor.metadata['parameters']:,} parameters)"
    )
    say(f"{'path':<54}{'p50 ms':>10}{'p95 ms':>10}{'images/s':>12}")
    for name, timing in results.items():
        rate = f"{timing['images_per_s']:.0f}" if "images_per_s" in timing else ""
        say(f"{name:<54}{timing['p50_ms']:>10.2f}{timing['p95_ms']:>10.2f}{rate:>12}")
    ratio = (
        results["report model.predict, 1 image"]["p50_ms"]
        / results[f"maskbot Predictor ({predictor.runtime}), 1 image"]["p50_ms"]
    )
    say(f"single image: the shipped path is {ratio:.1f}x faster than the report's model.predict (p50 ratio)")
    results["load"] = {"seconds": load_seconds}
    return results
