"""Inference speed, measured the same way every time and printed as a table.

Medians (p50) and p95 of wall time over `repeats` calls after a warm-up; the report's
`model.predict` path is timed in the same run, so the ratio holds even on a noisy machine.
"""

from __future__ import annotations

import io
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np

from model import IMAGE_SIZE


def time_calls(call: Callable[[], object], repeats: int, warm_up: int = 5) -> dict[str, float]:
    for _ in range(warm_up):
        call()
    durations = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        durations.append((time.perf_counter() - started) * 1000)
    durations.sort()
    return {"p50_ms": statistics.median(durations), "p95_ms": durations[int(len(durations) * 0.95) - 1]}


def sample_photo(photos_dir: Path | None, size: tuple[int, int] = (1280, 960)) -> bytes:
    """A 1280x960 JPEG: a real photo enlarged when a folder is given, else a generated scene."""
    from PIL import Image

    if photos_dir is not None:
        first = next(p for p in sorted(Path(photos_dir).rglob("*")) if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        image = Image.open(first).convert("RGB").resize(size)
    else:
        rng = np.random.default_rng(0)
        gradient = np.linspace(40, 220, size[0], dtype=np.float32)[None, :, None]
        noise = rng.normal(0, 12, (size[1], size[0], 3))
        image = Image.fromarray(np.clip(gradient + noise, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def run_benchmarks(model_dir: Path, baseline_dir: Path | None = None, photos_dir: Path | None = None,
                   repeats: int = 200, say: Callable[[str], None] = print) -> dict[str, dict[str, float]]:
    import keras

    from model.architectures import report_cnn
    from model.predictor import Predictor
    from model.preprocess import to_input

    started = time.perf_counter()
    predictor = Predictor(model_dir)
    load_seconds = time.perf_counter() - started
    rng = np.random.default_rng(1)
    one = rng.integers(0, 256, (1, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    batch = rng.integers(0, 256, (64, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    if baseline_dir is not None:
        baseline = keras.saving.load_model(Path(baseline_dir) / "model.keras", compile=False)
    else:
        baseline = report_cnn()  # weights do not change the arithmetic, so an untrained copy times the same
    results: dict[str, dict[str, float]] = {}
    results["report model.predict, 1 image"] = time_calls(lambda: baseline.predict(to_input(one), verbose=0), repeats // 4)
    results["report model(x), 1 image"] = time_calls(lambda: baseline(to_input(one), training=False), repeats)
    results["maskbot model.predict, 1 image"] = time_calls(
        lambda: predictor.network.predict(to_input(one), verbose=0), repeats // 4)
    results["maskbot model(x), 1 image"] = time_calls(lambda: predictor.network(to_input(one), training=False), repeats)
    results["maskbot Predictor (tf.function), 1 image"] = time_calls(lambda: predictor.probabilities(one), repeats)
    batch_timing = time_calls(lambda: predictor.probabilities(batch), max(repeats // 10, 5))
    batch_timing["images_per_s"] = 64 / (batch_timing["p50_ms"] / 1000)
    results["maskbot Predictor, batch of 64"] = batch_timing
    report_batch = time_calls(lambda: baseline.predict(to_input(batch), verbose=0), max(repeats // 20, 3))
    report_batch["images_per_s"] = 64 / (report_batch["p50_ms"] / 1000)
    results["report model.predict, batch of 64"] = report_batch
    photo = sample_photo(photos_dir)
    results["whole path, 1280x960 JPEG"] = time_calls(lambda: predictor.predict(photo), max(repeats // 4, 10))

    say(f"model {predictor.version} from {model_dir}: loaded in {load_seconds:.2f} s "
        f"({predictor.metadata['parameters']:,} parameters)")
    say(f"{'path':<44}{'p50 ms':>10}{'p95 ms':>10}{'images/s':>12}")
    for name, timing in results.items():
        rate = f"{timing['images_per_s']:.0f}" if "images_per_s" in timing else ""
        say(f"{name:<44}{timing['p50_ms']:>10.2f}{timing['p95_ms']:>10.2f}{rate:>12}")
    ratio = results["report model.predict, 1 image"]["p50_ms"] / results["maskbot Predictor (tf.function), 1 image"]["p50_ms"]
    say(f"single image: the shipped path is {ratio:.1f}x faster than the report's model.predict (p50 ratio)")
    results["load"] = {"seconds": load_seconds}
    return results
