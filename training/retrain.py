"""Retraining from reviewed user feedback, and the gate that decides whether the result ships.

The challenger is trained from the champion's recipe on the base data plus most of the accepted
feedback; the rest of the feedback is held out. The champion's fixed test split never enters
training. Both models are then scored on the same sets, and the challenger replaces the
champion only when it is no worse on the fixed tests (within `tolerance`) and better on the
held-out feedback.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from model import CLASS_NAMES, METADATA_FILE
from model.images import decode_image
from model.preprocess import resize
from model.registry import Registry
from training.dataset import list_images

HOLDOUT_SHARE = 0.3
TOLERANCE = 0.01
FINE_TUNING = {"maskbot": (4, 2e-4), "pretrained": (2, 1e-4)}
"""Epochs and learning rate of fine-tuning a champion, by its recipe: v3's network costs 6 minutes
an epoch on 2 cores, and starts from weights that already fit the base data."""


@dataclass
class FeedbackSet:
    names: list[str]
    pixels: np.ndarray
    labels: np.ndarray

    def subset(self, mask: np.ndarray) -> FeedbackSet:
        return FeedbackSet(
            [n for n, keep in zip(self.names, mask, strict=True) if keep], self.pixels[mask], self.labels[mask]
        )


def load_feedback(folder: Path) -> FeedbackSet:
    """The crops `maskbot feedback export` wrote, as 128x128 arrays with their corrected labels."""
    items = list_images(folder)
    pixels = np.stack([resize(decode_image(item.path, min_side=1).pixels) for item in items])
    return FeedbackSet([item.relative for item in items], pixels, np.array([item.label for item in items]))


def holdout_mask(names: list[str], share: float = HOLDOUT_SHARE) -> np.ndarray:
    """A stable choice of held-out feedback: by a hash of the file name, so reruns agree."""
    return np.array(
        [int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < share for name in names], dtype=bool
    )


@dataclass
class GateResult:
    promote: bool
    reasons: list[str]
    tolerance: float
    champion: str
    challenger: str
    scores: dict = field(default_factory=dict)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2))


def score_models(
    champion_dir: Path,
    challenger_dir: Path,
    base_dir: Path,
    check_dirs: list[Path],
    feedback: FeedbackSet,
    cache_dir: Path,
    more_data: Sequence[Path] = (),
) -> dict:
    from model.predictor import Predictor
    from training.evaluate import evaluate

    scores: dict[str, dict[str, float]] = {}
    for role, folder in (("champion", champion_dir), ("challenger", challenger_dir)):
        predictor = Predictor(folder)
        result = {"fixed_test": evaluate(predictor, base_dir, cache_dir, test_split_only=True)["balanced_accuracy"]}
        for folder in more_data:  # their fixed test parts too (ilc3's real photos, say)
            result[f"fixed_test:{folder.name}"] = evaluate(predictor, folder, cache_dir, test_split_only=True)[
                "balanced_accuracy"
            ]
        for check in check_dirs:
            result[f"check:{check.name}"] = evaluate(predictor, check, cache_dir)["balanced_accuracy"]
        if len(feedback.labels):
            predicted = predictor.probabilities(feedback.pixels).argmax(axis=1)
            result["feedback"] = float(np.mean(predicted == feedback.labels))
        scores[role] = result
    return scores


def gate(scores: dict, champion: str, challenger: str, tolerance: float = TOLERANCE) -> GateResult:
    reasons = []
    old, new = scores["champion"], scores["challenger"]
    for key in old:
        if key == "feedback":
            continue
        if new[key] < old[key] - tolerance:
            reasons.append(f"worse on {key}: {new[key]:.4f} < {old[key]:.4f} - {tolerance}")
    if "feedback" not in old:
        reasons.append("no held-out feedback to show an improvement on")
    elif new["feedback"] <= old["feedback"]:
        reasons.append(f"not better on held-out feedback: {new['feedback']:.4f} <= {old['feedback']:.4f}")
    return GateResult(
        not reasons,
        reasons or ["no worse on the fixed tests and better on held-out feedback"],
        tolerance,
        champion,
        challenger,
        scores,
    )


def retrain(
    registry: Registry,
    base_dir: Path,
    feedback_dir: Path,
    check_dirs: list[Path],
    cache_dir: Path,
    from_scratch: bool = False,
    epochs: int | None = None,
    force: bool = False,
    tolerance: float = TOLERANCE,
    say: Callable[[str], None] = print,
    more_data: Sequence[Path] = (),
) -> GateResult:
    from training.train import TrainConfig, train

    champion = registry.champion()
    champion_dir = registry.champion_dir()
    metadata = json.loads((champion_dir / METADATA_FILE).read_text())
    recipe = metadata.get("recipe")
    if recipe not in FINE_TUNING:
        raise ValueError(
            f"the champion {champion} was trained with the {recipe!r} recipe; "
            f"retraining supports the {' and '.join(FINE_TUNING)} recipes"
        )
    feedback = load_feedback(feedback_dir)
    held_out = holdout_mask(feedback.names)
    training, holdout = feedback.subset(~held_out), feedback.subset(held_out)
    counts = {name: int(np.sum(feedback.labels == i)) for i, name in enumerate(CLASS_NAMES)}
    say(
        f"feedback: {len(feedback.names)} crops {counts}; {len(training.names)} to train on, "
        f"{len(holdout.names)} held out for the gate"
    )
    version = registry.next_version()
    out_dir = registry.root / version
    config = TrainConfig(
        data_dir=base_dir,
        out_dir=out_dir,
        recipe=recipe,
        version=version.lstrip("v"),
        cache_dir=cache_dir,
        split_file=champion_dir / "split.json",
        check_dirs=check_dirs,
        more_data=list(more_data),
        initial_weights=None if from_scratch else champion_dir / "model.keras",
        epochs=epochs or (None if from_scratch else FINE_TUNING[recipe][0]),
        learning_rate=None if from_scratch else FINE_TUNING[recipe][1],
        extra_pixels=training.pixels,
        extra_labels=training.labels,
    )
    start = ("from ImageNet" if recipe == "pretrained" else "from scratch") if from_scratch else f"from {champion}"
    say(f"training {version} {start} ...")
    train(config, say=say)
    say("scoring champion and challenger on the same sets ...")
    scores = score_models(champion_dir, out_dir, base_dir, check_dirs, holdout, cache_dir, list(more_data))
    result = gate(scores, champion, version, tolerance)
    result.save(out_dir / "gate.json")
    if result.promote:
        registry.promote(version, "passed the gate: " + "; ".join(result.reasons))
    elif force:
        registry.promote(version, "forced past the gate: " + "; ".join(result.reasons), forced=True)
    return result
