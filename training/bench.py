"""Inference speed, measured the same way every time and printed as a table.

Medians (p50) and p95 of wall time over `repeats` calls after a warm-up; the report's
`model.predict` path is timed in the same run, so the ratio holds even on a noisy machine.
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from model import IMAGE_SIZE
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
    durations.sort()
    return {"p50_ms": statistics.median(durations), "p95_ms": durations[int(len(durations) * 0.95) - 1]}


def drawn_face(background: np.ndarray, seed: int = 0, size: float = 0.5) -> np.ndarray:
    """`background` (RGB) with a face drawn in its middle: hair, ears, eyes, brows, nose and lips,
    the face's height about `size` of the short side. The face finder finds it with a score near 1,
    so timings and tests that need a face need no photo of a person."""
    import cv2

    rng = np.random.default_rng(seed)
    pixels = background.copy()
    height, width = pixels.shape[:2]
    cx, cy = width // 2, height // 2
    half_width = int(min(width, height) * size * 0.38)
    half_height = int(half_width * 1.3)
    skin = (int(rng.integers(190, 235)), int(rng.integers(140, 180)), int(rng.integers(110, 150)))
    hair = (40, 30, 20)
    cv2.ellipse(
        pixels, (cx, cy - half_height // 4), (int(half_width * 1.1), int(half_height * 0.95)), 0, 180, 360, hair, -1
    )
    cv2.ellipse(pixels, (cx, cy), (half_width, half_height), 0, 0, 360, skin, -1)
    for side in (-1, 1):
        cv2.ellipse(
            pixels,
            (cx + side * (half_width + 4), cy),
            (int(half_width * 0.15), int(half_height * 0.2)),
            0,
            0,
            360,
            skin,
            -1,
        )
        eye_x, eye_y = cx + side * int(half_width * 0.42), cy - int(half_height * 0.15)
        cv2.ellipse(
            pixels, (eye_x, eye_y), (int(half_width * 0.22), int(half_height * 0.08)), 0, 0, 360, (245, 245, 245), -1
        )
        cv2.circle(pixels, (eye_x, eye_y), int(half_height * 0.07), (60, 40, 30), -1)
        cv2.circle(pixels, (eye_x, eye_y), int(half_height * 0.03), (10, 10, 10), -1)
        cv2.line(
            pixels,
            (eye_x - int(half_width * 0.25), eye_y - int(half_height * 0.16)),
            (eye_x + int(half_width * 0.25), eye_y - int(half_height * 0.19)),
            hair,
            max(2, half_height // 30),
        )
    nose = np.array(
        [
            [cx, cy - int(half_height * 0.05)],
            [cx - int(half_width * 0.15), cy + int(half_height * 0.25)],
            [cx + int(half_width * 0.15), cy + int(half_height * 0.25)],
        ]
    )
    cv2.fillPoly(pixels, [nose], tuple(int(channel * 0.8) for channel in skin))
    cv2.ellipse(
        pixels,
        (cx, cy + half_height // 2),
        (int(half_width * 0.35), int(half_height * 0.09)),
        0,
        0,
        360,
        (170, 60, 60),
        -1,
    )
    return cv2.GaussianBlur(pixels, (0, 0), 1.2)


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


def group_photo(faces: int = 10, size: tuple[int, int] = (1280, 960)) -> bytes:
    """A JPEG of `faces` drawn faces in two rows on a textured background, each face about a
    tenth of the photo's width: a group photo that needs no photo of people."""
    from PIL import Image

    columns = -(-faces // 2)
    width, height = size
    rng = np.random.default_rng(1)
    base = np.linspace(40, 200, width, dtype=np.float32)[None, :, None] + rng.normal(0, 18, (height, width, 3))
    canvas = np.clip(base, 0, 255).astype(np.uint8)
    tile_width, tile_height = width // columns, height // 2
    for index in range(faces):
        row, column = divmod(index, columns)
        top, left = row * tile_height, column * tile_width
        tile = canvas[top : top + tile_height, left : left + tile_width]
        canvas[top : top + tile_height, left : left + tile_width] = drawn_face(tile, seed=index, size=0.45)
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, "JPEG", quality=90)
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


def panned_clip(
    picture: np.ndarray,
    size: tuple[int, int] = (480, 480),
    seconds: float = 3.0,
    fps: int = 10,
    zoom: float = 1.5,
    blurred: float = 0.0,
    seed: int = 0,
    codec: Literal["mpeg4", "libx264"] = "mpeg4",
) -> bytes:
    """An MP4 clip of an RGB `picture` filmed by a moving phone: zooming in by `zoom` and panning
    across it over `seconds`, a share `blurred` of its frames smeared by shaking. MPEG-4 by
    default, quick to write; "libx264" for H.264, what phones and Telegram send. Tests and
    benchmarks make video notes and videos of known face photos with it."""
    import av
    import cv2

    rng = np.random.default_rng(seed)
    width, height = size
    frames = max(1, round(seconds * fps))
    # The picture filling the frame at zoom 1, cropped to the frame's shape around its centre.
    base = max(width / picture.shape[1], height / picture.shape[0])
    pan = rng.choice([-1, 1]) * 0.1
    output = io.BytesIO()
    with av.open(output, "w", format="mp4") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(frames):
            progress = index / max(1, frames - 1)
            scale = base * (1 + (zoom - 1) * progress)
            scaled = cv2.resize(picture, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            room_x, room_y = scaled.shape[1] - width, scaled.shape[0] - height
            left = round(room_x / 2 + pan * (progress - 0.5) * scaled.shape[1])
            left, top = min(max(left, 0), room_x), room_y // 2
            frame = np.ascontiguousarray(scaled[top : top + height, left : left + width], dtype=np.uint8)
            if rng.random() < blurred:
                frame = cv2.blur(frame, (int(rng.integers(9, 25)), 1)).astype(np.uint8)  # a sideways shake
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
    return output.getvalue()
