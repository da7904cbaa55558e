"""Model versions on disk: `v1/`, `v2/`, ... each a complete model folder, plus a champion pointer.

    MODEL_DIR/
      v1/ v2/ ...        model.keras, metadata.json, split.json, pictures; gate.json for challengers
      champion           the version answering users, e.g. "v2"
      history.jsonl      every promotion and rollback: when, what, from what, why, forced or not

Promotion rewrites `champion` atomically (write, then rename), so a bot reading it mid-change
sees the old or the new version, never half a file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

VERSION_PATTERN = re.compile(r"^v(\d+)$")
SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"
"""The models this repository ships (package resources, so installed copies find them)."""


def version_number(name: str) -> int:
    """3 for "v3"; a ValueError for a name that is not a version."""
    match = VERSION_PATTERN.match(name)
    if match is None:
        raise ValueError(f"not a model version: {name!r}")
    return int(match.group(1))


def shipped_versions() -> list[Path]:
    """Every shipped model folder, oldest first."""
    folders = [p for p in SHIPPED_DIR.iterdir() if VERSION_PATTERN.match(p.name) and (p / "metadata.json").exists()]
    return sorted(folders, key=lambda p: version_number(p.name))


SHIPPED_MODEL = shipped_versions()[-1]
"""The newest shipped model: what a fresh install answers with."""


class RegistryError(RuntimeError):
    pass


@dataclass(frozen=True)
class VersionInfo:
    name: str
    path: Path
    metadata: dict
    status: str  # champion, candidate, rejected or retired
    gate: dict | None = None
    """Its gate.json, for a retrained challenger: promote, reasons, tolerance and both models' scores."""

    @property
    def test_balanced_accuracy(self) -> float | None:
        return self.metadata.get("metrics", {}).get("test", {}).get("balanced_accuracy")


def active_model_dir(model_dir: Path) -> Path:
    """The folder to load: `model_dir` itself when it is one model, else its registry's champion
    (an empty registry is first seeded with the shipped models)."""
    if (model_dir / "metadata.json").exists():
        return model_dir
    registry = Registry(model_dir)
    registry.seed()
    return registry.champion_dir()


def open_registry(model_dir: Path) -> Registry:
    """The registry at `model_dir`, seeded with the shipped models when empty; a RegistryError
    when `model_dir` is one model folder, which has no versions to promote or roll back."""
    if (model_dir / "metadata.json").exists():
        raise RegistryError(
            f"MODEL_DIR={model_dir} is a single model folder, not a registry; "
            "point MODEL_DIR at a registry folder (default: DATA_DIR/models)"
        )
    registry = Registry(model_dir)
    registry.seed()
    return registry


class Registry:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @property
    def _champion_file(self) -> Path:
        return self.root / "champion"

    @property
    def _history_file(self) -> Path:
        return self.root / "history.jsonl"

    def seed(self, shipped: Path | list[Path] | None = None) -> None:
        """Bring in the shipped models this registry lacks.

        An empty registry gets each of them, the oldest as the first champion and the newest
        promoted over it, so `models rollback` returns to the one before. A registry made by an
        earlier release keeps its champion: a model shipped since arrives as a candidate, for an
        operator to compare (`models list`) and promote, exactly like a retrained challenger."""
        folders = shipped_versions() if shipped is None else [shipped] if isinstance(shipped, Path) else shipped
        fresh = not self.version_names()
        history = self.history()
        # Registries seeded before shipped models were named in the history hold shipped v1.
        imported = {entry.get("shipped", "v1") for entry in history if entry["action"] in ("seed", "import")}
        self.root.mkdir(parents=True, exist_ok=True)
        for folder in folders:
            if not fresh and folder.name in imported:
                continue
            version = self.next_version()
            shutil.copytree(folder, self.root / version)
            if fresh and not self._champion_file.exists():
                self._write_champion(version)
                self._log(
                    {
                        "action": "seed",
                        "version": version,
                        "shipped": folder.name,
                        "previous": None,
                        "reason": "shipped model",
                        "forced": False,
                    }
                )
                continue
            self._log(
                {
                    "action": "import",
                    "version": version,
                    "shipped": folder.name,
                    "previous": None,
                    "reason": f"shipped model {folder.name}, a candidate",
                    "forced": False,
                }
            )
            if fresh:
                self.promote(version, f"shipped model {folder.name}, the newest")

    def version_names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        names = [
            p.name
            for p in self.root.iterdir()
            if p.is_dir() and VERSION_PATTERN.match(p.name) and (p / "metadata.json").exists()
        ]
        return sorted(names, key=version_number)

    def next_version(self) -> str:
        names = self.version_names()
        return f"v{version_number(names[-1]) + 1}" if names else "v1"

    def champion(self) -> str:
        """The champion's version name; only a `vN` folder of this registry is accepted, so an
        edited or corrupted pointer cannot make the bot load a model from elsewhere."""
        if not self._champion_file.exists():
            raise RegistryError(f"{self.root} has no champion; run `maskbot models promote VERSION`")
        name = self._champion_file.read_text().strip()
        if name not in self.version_names():
            raise RegistryError(
                f"{self._champion_file} names {name[:40]!r}, which is no version in {self.root}; "
                "see `maskbot models list`, then `maskbot models promote VERSION`"
            )
        return name

    def champion_dir(self) -> Path:
        return self.root / self.champion()

    def versions(self) -> list[VersionInfo]:
        champion = self.champion() if self._champion_file.exists() else None
        promoted = {entry["version"] for entry in self.history() if entry["action"] != "import"}
        infos = []
        for name in self.version_names():
            path = self.root / name
            gate = json.loads((path / "gate.json").read_text()) if (path / "gate.json").exists() else None
            if name == champion:
                status = "champion"
            elif name in promoted:
                status = "retired"
            elif gate is not None and not gate.get("promote", False):
                status = "rejected"
            else:
                status = "candidate"
            infos.append(VersionInfo(name, path, json.loads((path / "metadata.json").read_text()), status, gate))
        return infos

    def promote(self, version: str, reason: str, forced: bool = False) -> None:
        if version not in self.version_names():
            raise RegistryError(f"no version {version!r} in {self.root}; see `maskbot models list`")
        previous = self.champion() if self._champion_file.exists() else None
        self._write_champion(version)
        self._log({"action": "promote", "version": version, "previous": previous, "reason": reason, "forced": forced})

    def rollback_target(self) -> str:
        """The champion before the current one: what `rollback` would bring back."""
        current = self.champion()
        for entry in reversed(self.history()):
            if entry["version"] == current and entry.get("previous"):
                return entry["previous"]
        raise RegistryError(f"{current} has no earlier champion to roll back to")

    def rollback(self, reason: str = "rollback") -> str:
        """Make the champion before the current one champion again; returns it."""
        current, previous = self.champion(), self.rollback_target()
        self._write_champion(previous)
        self._log({"action": "rollback", "version": previous, "previous": current, "reason": reason, "forced": False})
        return previous

    def history(self) -> list[dict]:
        if not self._history_file.exists():
            return []
        return [json.loads(line) for line in self._history_file.read_text().splitlines() if line.strip()]

    def _write_champion(self, version: str) -> None:
        partial = self._champion_file.with_suffix(".tmp")
        partial.write_text(version + "\n")
        os.replace(partial, self._champion_file)

    def _log(self, entry: dict) -> None:
        entry = {"at": datetime.now(UTC).isoformat(timespec="seconds"), **entry}
        with self._history_file.open("a") as handle:
            handle.write(json.dumps(entry) + "\n")
