"""Model folders and registries as the tests need them: the shipped ones, and damaged copies."""

from __future__ import annotations

from pathlib import Path


def cut_short(model_dir: Path) -> Path:
    """`model_dir` with its model.onnx cut in half, as an interrupted copy or a full disk leaves it."""
    served = model_dir / "model.onnx"
    data = served.read_bytes()
    served.write_bytes(data[: len(data) // 2])
    return model_dir


def shipped_registry(root: Path):
    """A registry of the first two shipped models, v2 the champion: versions the bot can load."""
    from model.registry import Registry, shipped_versions

    registry = Registry(root)
    registry.seed(shipped_versions()[:2])
    return registry
