"""The model card's tables of what the shipped models' metadata.json record, so that the card cannot
drift from the models: docs/model.md holds each table between `<!-- NAME: generated ... -->` and
`<!-- end of NAME -->`, `python -m training.card` writes them and tests/test_docs.py fails when a
table differs from what this module makes of the metadata."""

from __future__ import annotations

import json
import re
from pathlib import Path

from model import CLASS_NAMES, METADATA_FILE
from model.registry import shipped_versions

CARD = Path(__file__).resolve().parents[1] / "docs" / "model.md"

SETS = {
    "ilc3_test": "ilc3 fixed test",
    "real3": "real3",
    "external2": "external2",
    "test": "masks3 fixed test",
    "utkface_test": "utkface test",
    "wider_test": "wider test",
}
"""The sets a model's `metrics` may hold, by their key there, as the card names them, in its order."""

BLOCK = re.compile(r"(<!-- (?P<name>[a-z]+): generated .*? -->\n)(?P<body>.*?)(<!-- end of (?P=name) -->)", re.S)


def shipped_metadata() -> dict[str, dict]:
    """Every shipped model's metadata.json, by version, oldest first."""
    return {folder.name: json.loads((folder / METADATA_FILE).read_text()) for folder in shipped_versions()}


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def versions_table(models: dict[str, dict]) -> str:
    lines = [
        "| version | parameters | temperature | *Not sure* below | class offsets: with / without / incorrect |",
        "|---|---|---|---|---|",
    ]
    for version, metadata in models.items():
        offsets = metadata.get("class_offsets")
        shown = "-" if offsets is None else " / ".join(f"{offsets[name]:+.2f}" for name in CLASS_NAMES)
        lines.append(
            f"| {version} | {metadata['parameters']:,} | {metadata['temperature']:.2f} "
            f"| {metadata['threshold']:.2f} | {shown} |"
        )
    return "\n".join(lines) + "\n"


def _recalls(scores: dict) -> str:
    """Each class's recall, "-" for a class the set lacks (some reports leave it out); the incorrect one
    with its count."""
    classes = scores["report"]["classes"]
    shown = []
    for index, name in enumerate(CLASS_NAMES):
        support = classes.get(name, {}).get("support", 0)
        if not support:
            shown.append("-")
        elif name == "mask_weared_incorrect":
            right = scores["confusion_matrix"][index][index]
            shown.append(f"{classes[name]['recall']:.3f} ({right} of {support})")
        else:
            shown.append(f"{classes[name]['recall']:.3f}")
    return " / ".join(shown)


def scores_table(models: dict[str, dict]) -> str:
    lines = [
        "| set | model | bal. | mask/no | recall with / without / incorrect | macro-F1 | sure | right when sure "
        "| ECE before / after |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, set_name in SETS.items():
        scored = {
            version: metadata["metrics"][key] for version, metadata in models.items() if key in metadata["metrics"]
        }
        for position, (version, scores) in enumerate(scored.items()):
            first_cell = f"{set_name} ({scores['count']:,} faces)" if position == 0 else ""
            calibration = (
                f"{_number(scores.get('expected_calibration_error_uncalibrated'))} "
                f"/ {_number(scores['expected_calibration_error'])}"
            )
            lines.append(
                f"| {first_cell} | {version} | {scores['balanced_accuracy']:.3f} "
                f"| {scores['mask_vs_no_mask_accuracy']:.3f} | {_recalls(scores)} "
                f"| {scores['report']['macro']['f1']:.3f} | {_number(scores.get('coverage'))} "
                f"| {_number(scores.get('confident_accuracy'))} | {calibration} |"
            )
    return "\n".join(lines) + "\n"


def tables(models: dict[str, dict]) -> dict[str, str]:
    """Each generated block of the card, by name."""
    return {"versions": versions_table(models), "scores": scores_table(models)}


def blocks(card: str) -> dict[str, str]:
    """The card's generated blocks as they stand, by name."""
    return {match["name"]: match["body"] for match in BLOCK.finditer(card)}


def with_tables(card: str, generated: dict[str, str]) -> str:
    """`card` with each generated block's text replaced by `generated`'s."""
    return BLOCK.sub(lambda match: match.group(1) + generated[match["name"]] + match.group(4), card)


if __name__ == "__main__":
    CARD.write_text(with_tables(CARD.read_text(), tables(shipped_metadata())))
    print(f"wrote {', '.join(blocks(CARD.read_text()))} into {CARD}")
