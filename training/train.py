"""Training: one config, one function, a versioned model folder as the result.

Three recipes share the data loading, split and calibration:
- "report": the university report's network and fit call, kept as the baseline;
- "maskbot": v1 and v2, a small CNN trained from scratch on face-centred square crops;
- "pretrained": v3, EfficientNet-Lite0 from its ImageNet weights, fine-tuned end to end on the
  same crops, the epoch chosen on real validation photos.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from model import CLASS_NAMES, IMAGE_SIZE, METADATA_FILE
from model.calibration import calibrate
from model.faces import DETECTOR_SETTINGS
from training import metrics
from training.dataset import (
    CachedArrays,
    Split,
    cached_arrays,
    default_cache_dir,
    load_or_make_split,
    split_file_name,
)
from training.export import export_onnx, halve_keras_kernels
from training.runtime import import_tensorflow

PREPROCESSING = {"report": "squash", "maskbot": "face_crop", "pretrained": "face_crop"}
"""How each recipe's inputs are made; the predictor reads it from the metadata."""
RECIPE_DEFAULTS = {"pretrained": (5, 64, 5e-4), "maskbot": (16, 64, 1e-3), "report": (20, 32, 1e-3)}
"""Epochs, batch size and learning rate of each recipe, unless the config says otherwise."""
FEEDBACK_WEIGHT = 3.0


@dataclass
class TrainConfig:
    data_dir: Path
    out_dir: Path
    recipe: str = "pretrained"
    version: str = "1"
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    seed: int = 7
    cache_dir: Path = field(default_factory=default_cache_dir)
    split_file: Path | None = None
    """The primary folder's `split.json` to reuse; other folders' `split-<name>.json` beside it."""
    more_data: list[Path] = field(default_factory=list)
    """More labelled folders to train on (real photos: ilc3), each split by its own groups, its
    validation part used for calibration (the last folder's) and its test part scored."""
    more_data_repeat: int = 2
    """How many times each more_data training image is seen per epoch: real photos are few."""
    synthetic_dirs: list[Path] = field(default_factory=list)
    """Folders written by `maskbot data synth`: training only, and refused if any painted face
    comes from a validation or test list."""
    per_class_limit: int | None = None
    check_dirs: list[Path] = field(default_factory=list)
    initial_weights: Path | None = None
    """Start from these weights (fine-tuning a champion) instead of a random initialisation."""
    extra_pixels: np.ndarray | None = None
    """Extra 128x128 training crops (accepted user feedback), with `extra_labels`."""
    extra_labels: np.ndarray | None = None
    soup_of: list[Path] = field(default_factory=list)
    """Model folders of this recipe, fine-tuned from the same ImageNet weights, to average into one
    network ("model soup") instead of training: calibrated, scored and written as a training is."""
    class_offsets: bool = True
    """Fit per-class logit offsets for macro-F1 on the validation faces (`selection_crops`)."""
    verbose: int | str = "auto"
    """Keras' progress display: "auto" is a live bar in a terminal and one line per epoch
    otherwise (under nohup or CI the bar would be redrawn into the log hundreds of times)."""

    def __post_init__(self) -> None:
        if self.recipe not in PREPROCESSING:
            raise ValueError(f"unknown recipe {self.recipe!r}; choose from {', '.join(PREPROCESSING)}")
        epochs, batch_size, learning_rate = RECIPE_DEFAULTS[self.recipe]
        self.epochs = self.epochs or epochs
        self.batch_size = self.batch_size or batch_size
        self.learning_rate = self.learning_rate or learning_rate
        if self.verbose == "auto":
            self.verbose = 1 if sys.stdout.isatty() else 2


ProgressCallback = Callable[[str], None]
CONFIDENT_ACCURACY = 0.95
"""The *Not sure* threshold is the lowest confidence at which real validation answers are at least
this often right."""


@dataclass
class Source:
    """One labelled folder's cached arrays and which of them train, validate and test."""

    name: str
    split_file: str
    """Where the model folder keeps this folder's split (`split_file_name`)."""
    arrays: CachedArrays
    split: Split
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def load_source(
    config: TrainConfig, data_dir: Path, primary: bool, rng: np.random.Generator, say: ProgressCallback
) -> Source:
    say(f"loading {data_dir} (decoded and face-cropped once, then cached in {config.cache_dir}) ...")
    arrays = cached_arrays(data_dir, config.cache_dir, progress=_count_progress(say))
    split_file = split_file_name(data_dir, primary)
    reused = None if config.split_file is None else config.split_file.parent / split_file
    split = load_or_make_split(data_dir, reused, arrays.fingerprint, config.seed, say)
    parts = np.array([split.parts.get(name, "train") for name in arrays.files])
    chosen = [
        _limit(np.flatnonzero(parts == part), arrays.labels, config.per_class_limit, rng)
        for part in ("train", "val", "test")
    ]
    return Source(Path(data_dir).resolve().name, split_file, arrays, split, *chosen)


def check_synthetic_sources(synthetic_dir: Path, sources: list[Source]) -> None:
    """Every painted face must come from a training part: a test face painted is still a test face."""
    from training.synth import read_sources

    held_out = {
        f"{source.name}/{name}" for source in sources for name, part in source.split.parts.items() if part != "train"
    }
    leaked = sorted(set(read_sources(synthetic_dir).values()) & held_out)
    if leaked:
        raise ValueError(
            f"{synthetic_dir} paints {len(leaked)} faces of validation or test lists "
            f"(first: {leaked[0]}); make it again with the same --split-from as this training"
        )


def _limit(indices: np.ndarray, labels: np.ndarray, limit: int | None, rng: np.random.Generator) -> np.ndarray:
    if limit is None:
        return indices
    kept = [rng.permutation(indices[labels[indices] == label])[:limit] for label in range(len(CLASS_NAMES))]
    return np.sort(np.concatenate(kept))


def train(config: TrainConfig, say: ProgressCallback = print) -> Path:
    """Train, calibrate, score and write `config.out_dir`; returns that folder."""
    import_tensorflow()
    import keras

    from training.architectures import predict_array

    keras.utils.set_random_seed(config.seed)
    started = time.time()
    rng = np.random.default_rng(config.seed)
    sources = [load_source(config, config.data_dir, True, rng, say)]
    sources += [load_source(config, folder, False, rng, say) for folder in config.more_data]
    primary = sources[0]
    config.out_dir.mkdir(parents=True, exist_ok=True)
    for source in sources:
        source.split.save(config.out_dir / source.split_file)

    if config.recipe == "report":
        fitted_on = np.concatenate([primary.train, primary.val])
        network, history, primary.val = _fit_report(config, primary.arrays, fitted_on, rng)
        train_labels = primary.arrays.labels[np.setdiff1d(fitted_on, primary.val)]
    else:
        for synthetic_dir in config.synthetic_dirs:
            check_synthetic_sources(synthetic_dir, sources)
        synthetic = [
            cached_arrays(folder, config.cache_dir, progress=_count_progress(say)) for folder in config.synthetic_dirs
        ]
        views, train_labels = _training_views(config, sources, synthetic)
        if config.soup_of:
            network, history = _soup(config.soup_of, say)
        else:
            network, history = _fit_faces(config, views, sources, say)

    view_name = PREPROCESSING[config.recipe]
    calibration = sources[-1]
    say(f"calibrating on {calibration.name}'s validation part ...")
    val_probabilities = predict_array(network, calibration.arrays.view(view_name)[calibration.val])
    val_labels = calibration.arrays.labels[calibration.val]
    temperature = metrics.fit_temperature(val_probabilities, val_labels)
    offsets = None
    if config.class_offsets:
        pixels, labels = selection_crops(sources, view_name)
        offsets = metrics.fit_class_offsets(
            metrics.apply_temperature(predict_array(network, pixels), temperature), labels
        )
        say(f"class offsets for macro-F1 on {len(labels)} validation faces: {offsets.round(2).tolist()}")
    threshold = metrics.choose_threshold(
        calibrate(val_probabilities, temperature, offsets), val_labels, CONFIDENT_ACCURACY
    )
    scores = {}
    for index, source in enumerate(sources):
        raw = predict_array(network, source.arrays.view(view_name)[source.test])
        labels = source.arrays.labels[source.test]
        key = "test" if index == 0 else f"{source.name}_test"
        scores[key] = metrics.summary(labels, calibrate(raw, temperature, offsets), threshold)
        scores[key]["expected_calibration_error_uncalibrated"] = metrics.expected_calibration_error(raw, labels)
    for check_dir in config.check_dirs:
        say(f"scoring on {check_dir} ...")
        check = cached_arrays(check_dir, config.cache_dir)
        raw = predict_array(network, check.view(view_name))
        scores[Path(check_dir).name] = metrics.summary(check.labels, calibrate(raw, temperature, offsets), threshold)

    from training import plots

    # v3's 3.4 M weights in float32 would make a 28 MB model folder; float16 kernels halve it,
    # measured within 0.001 of float32's balanced accuracy on every fixed test (docs/model.md, "The shipped model: v3").
    half_precision = config.recipe == "pretrained"
    save_for_inference(network, config.out_dir / "model.keras", half_precision)
    export_onnx(config.out_dir, half_precision)  # what the bot serves, without TensorFlow
    if "loss" in history:  # a soup trains nothing: its members' folders hold their curves
        plots.training_curves(history, config.out_dir / "training.png")
    plots.confusion(scores["test"]["confusion_matrix"], config.out_dir / "confusion.png", "fixed test split")
    train_mix = np.bincount(train_labels, minlength=len(CLASS_NAMES))
    metadata = {
        "version": config.version,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "architecture": network.name,
        "recipe": config.recipe,
        "preprocessing": PREPROCESSING[config.recipe],
        "face_detector": DETECTOR_SETTINGS,
        "parameters": int(network.count_params()),
        "kernel_precision": "float16" if half_precision else "float32",
        "input_size": IMAGE_SIZE,
        "class_names": list(CLASS_NAMES),
        "class_mix": {name: float(share) for name, share in zip(CLASS_NAMES, train_mix / train_mix.sum(), strict=True)},
        "data_fingerprint": primary.arrays.fingerprint,
        "split_fingerprint": primary.split.fingerprint,
        "split_counts": {"train": len(primary.train), "val": len(primary.val), "test": len(primary.test)},
        "more_data": {
            source.name: {
                "data_fingerprint": source.arrays.fingerprint,
                "split_fingerprint": source.split.fingerprint,
                "split_counts": {part: len(getattr(source, part)) for part in ("train", "val", "test")},
            }
            for source in sources[1:]
        },
        "calibrated_on": f"{calibration.name} validation part ({len(calibration.val)} images)",
        "temperature": temperature,
        **({} if offsets is None else {"class_offsets": dict(zip(CLASS_NAMES, map(float, offsets), strict=True))}),
        "threshold": threshold,
        "training": {
            **{
                f.name: _plain(getattr(config, f.name))
                for f in fields(config)
                if f.name not in ("check_dirs", "out_dir", "cache_dir", "extra_pixels", "extra_labels")
            },
            "feedback_images": 0 if config.extra_labels is None else len(config.extra_labels),
            "epochs_run": len(history.get("loss", [])),
            "seconds": round(time.time() - started, 1),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        },
        "history": history,
        "metrics": scores,
    }
    if config.soup_of:
        # What each averaged network was: its own training settings, epoch kept and time.
        metadata["soup"] = [
            {key: member[key] for key in ("created", "training", "calibrated_on") if key in member}
            | {"chosen_epoch": member["history"].get("chosen_epoch"), "folder": str(folder)}
            for folder, member in (
                (folder, json.loads((Path(folder) / METADATA_FILE).read_text())) for folder in config.soup_of
            )
        ]
    (config.out_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2, default=str))
    say(
        f"wrote {config.out_dir} in {time.time() - started:.0f} s; test balanced accuracy "
        f"{scores['test']['balanced_accuracy']:.4f}"
    )
    return config.out_dir


def selection_crops(sources: list[Source], view_name: str) -> tuple[np.ndarray, np.ndarray]:
    """The validation faces that choose the epoch and the class offsets: every added folder's
    validation part (real photos: ilc3, and the bare faces of utkface and wider), or the primary
    folder's when nothing was added. masks3's augmented stock photos choose nothing."""
    chosen = sources[1:] or sources
    return (
        np.concatenate([source.arrays.view(view_name)[source.val] for source in chosen]),
        np.concatenate([source.arrays.labels[source.val] for source in chosen]),
    )


def _plain(value):
    """A config value as JSON: paths as strings, lists of paths as lists of strings."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def save_for_inference(network, path: Path, half_precision: bool = False) -> None:
    """Save the weights without the optimizer's state, which would triple the file; with
    `half_precision`, the kernels as float16 (`training.export.halve_keras_kernels`)."""
    clean = network.__class__.from_config(network.get_config())
    clean.set_weights(network.get_weights())
    clean.save(path)
    if half_precision:
        halve_keras_kernels(path)


def _count_progress(say: ProgressCallback):
    def report(done: int, total: int) -> None:
        if done == total or done % 1000 == 0:
            say(f"  prepared {done}/{total} images")

    return report


def _fit_report(config: TrainConfig, arrays: CachedArrays, index: np.ndarray, rng: np.random.Generator):
    """The report's fit call: shuffled arrays, `validation_split=0.3`, its two callbacks."""
    import keras

    from model.preprocess import to_input
    from training.architectures import report_cnn

    index = rng.permutation(index)
    x = to_input(arrays.squash[index])
    y = arrays.labels[index]
    network = report_cnn()
    network.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate), loss="sparse_categorical_crossentropy", metrics=["acc"]
    )
    callbacks = [
        keras.callbacks.ReduceLROnPlateau(monitor="val_acc", factor=0.5, patience=3, min_lr=1e-5),
        keras.callbacks.EarlyStopping(patience=5, verbose=1),
    ]
    fitted = network.fit(
        x,
        y,
        epochs=config.epochs,
        batch_size=config.batch_size,
        validation_split=0.3,
        callbacks=callbacks,
        verbose=config.verbose,
    )
    # Keras takes the validation split from the end of the arrays, before any shuffling.
    validation = index[int(len(index) * 0.7) :]
    return network, _plain_history(fitted.history), validation


def _training_views(
    config: TrainConfig, sources: list[Source], synthetic: list[CachedArrays]
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """(crops, labels, weights) to train on, and the labels of the distinct images among them.

    Each image is seen as the square around its largest face (the centre square where none was
    found), as the bot sees it; the bot answers "no face" instead of classifying a centre square."""
    pixels, labels, weights = [], [], []
    for index, source in enumerate(sources):
        repeat = 1 if index == 0 else config.more_data_repeat
        pixels += [source.arrays.face[source.train]] * repeat
        labels += [source.arrays.labels[source.train]] * repeat
        weights += [np.ones(len(source.train) * repeat, dtype=np.float32)]
    for arrays in synthetic:
        pixels.append(arrays.face)
        labels.append(arrays.labels)
        weights.append(np.ones(len(arrays.labels), dtype=np.float32))
    distinct = np.concatenate(
        [source.arrays.labels[source.train] for source in sources] + [arrays.labels for arrays in synthetic]
    )
    if config.extra_pixels is not None and config.extra_labels is not None and len(config.extra_pixels):
        # Each accepted correction is a real photo the model got wrong: worth several stock photos.
        pixels.append(config.extra_pixels)
        labels.append(config.extra_labels)
        weights.append(np.full(len(config.extra_labels), FEEDBACK_WEIGHT, dtype=np.float32))
    view_labels = np.concatenate(labels)
    counts = np.bincount(view_labels, minlength=len(CLASS_NAMES))
    class_weight = len(view_labels) / (len(CLASS_NAMES) * np.maximum(counts, 1))
    weights = np.concatenate(weights) * class_weight[view_labels].astype(np.float32)
    return (np.concatenate(pixels), view_labels, weights), distinct


def _fit_faces(config: TrainConfig, views, sources: list[Source], say: ProgressCallback):
    """The face recipes' fit: augmented crops, class weights, AdamW under a cosine schedule."""
    import keras
    import tensorflow as tf

    from model.preprocess import to_input
    from training.augment import augment
    from training.callbacks import BestEpoch

    assert config.epochs is not None and config.batch_size is not None  # filled in by __post_init__
    assert config.learning_rate is not None
    pixels, labels, weights = views
    steps = int(np.ceil(len(pixels) / config.batch_size))
    dataset = (
        tf.data.Dataset.from_tensor_slices((pixels, labels, weights))
        .shuffle(len(pixels), seed=config.seed, reshuffle_each_iteration=True)
        .map(lambda image, label, weight: (augment(image), label, weight), num_parallel_calls=tf.data.AUTOTUNE)
        .batch(config.batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    validation = (
        to_input(np.concatenate([source.arrays.face[source.val] for source in sources])),
        np.concatenate([source.arrays.labels[source.val] for source in sources]),
    )
    network = _face_network(config)
    callbacks = []
    if config.recipe == "maskbot":
        # A fixed cosine schedule, no early stopping: measured on masks3, stopping on the noisy
        # validation loss kept an early, high-learning-rate epoch that scored better on masks3's own
        # test split and far worse on external2 (balanced accuracy 0.78 against 0.89).
        schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate * 2, steps * config.epochs, alpha=0.02)
        optimizer = keras.optimizers.AdamW(schedule, weight_decay=1e-4)
    else:
        # Fine-tuning from ImageNet: a short linear warm-up (the new classifier's first, large
        # gradients must not wreck the pretrained filters), then cosine to zero. The epoch kept is
        # chosen on the real validation photos, not the last one (see `BestEpoch`).
        warm_up = steps // 2
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, max(1, steps * config.epochs - warm_up), warmup_target=config.learning_rate, warmup_steps=warm_up
        )
        optimizer = keras.optimizers.AdamW(schedule, weight_decay=PRETRAINED_WEIGHT_DECAY)
        chooser_pixels, chooser_labels = selection_crops(sources, "face_crop")
        if len(chooser_labels):
            callbacks.append(BestEpoch(chooser_pixels, chooser_labels, say))
    network.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["acc"])
    fitted = network.fit(
        dataset, epochs=config.epochs, validation_data=validation, callbacks=callbacks, verbose=config.verbose
    )
    history = _plain_history(fitted.history)
    for callback in callbacks:
        history |= callback.restore(network)
    return network, history


PRETRAINED_WEIGHT_DECAY = 0.01


def _face_network(config: TrainConfig):
    """The recipe's network: from the champion's weights when fine-tuning it, else v2's CNN from
    scratch or EfficientNet-Lite0 from ImageNet."""
    import keras

    from training.architectures import efficientnet_lite0, load_imagenet_weights, maskbot_cnn

    network = maskbot_cnn() if config.recipe == "maskbot" else efficientnet_lite0()
    if config.initial_weights is not None:
        network.set_weights(keras.saving.load_model(config.initial_weights).get_weights())
    elif config.recipe == "pretrained":
        load_imagenet_weights(network)
    return network


def _soup(model_dirs: list[Path], say: ProgressCallback):
    """The weight-by-weight mean of networks fine-tuned from one starting point (batch-norm
    statistics too). Fine-tunings of the same pretrained weights stay in one basin of the loss,
    so their mean is a network of its own, steadier than any one of them: measured on ilc3's
    validation photos, the soup of v3's three fine-tunings beat each of them (docs/model.md, "What each change bought")."""
    import keras

    say(f"averaging {len(model_dirs)} networks: {', '.join(map(str, model_dirs))} ...")
    networks = [keras.saving.load_model(Path(folder) / "model.keras", compile=False) for folder in model_dirs]
    if len({network.name for network in networks}) != 1:
        raise ValueError("a soup averages networks of one architecture")
    weights = [network.get_weights() for network in networks]
    soup = networks[0]
    soup.set_weights([np.mean(layer, axis=0) for layer in zip(*weights, strict=True)])
    return soup, {"soup_of": [float(len(model_dirs))]}


def _plain_history(history: dict) -> dict[str, list[float]]:
    return {key: [float(value) for value in values] for key, values in history.items() if key != "learning_rate"}
