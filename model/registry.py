"""Model versions on disk: `v1/`, `v2/`, ... each a complete model folder, plus a champion pointer.

    MODEL_DIR/
      v1/ v2/ ...        model.onnx (what the bot serves), metadata.json (calibration, scores),
                         model.keras (what training and retraining start from), split*.json,
                         pictures; gate.json for challengers
      champion           the version answering users, e.g. "v2"
      history.jsonl      every promotion and rollback: when, what, from what, why, forced or not

Promotion rewrites `champion` atomically (write, then rename), so a bot reading it mid-change
sees the old or the new version, never half a file. Only a version that loads and answers as the
bot needs (`check_servable`) is made champion; a champion damaged afterwards gives way, in the
bot, to the last champion before it that loads (`load_answering`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from model import CLASS_NAMES, IMAGE_SIZE, METADATA_FILE, ONNX_FILE

if TYPE_CHECKING:  # imported where a model is loaded (OpenCV, the face finder): every command imports this module
    from model.predictor import Predictor

VERSION_PATTERN = re.compile(r"^v(\d+)$")
SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"
"""The models this repository ships (package resources, so installed copies find them)."""


def version_number(name: str) -> int:
    """3 for "v3"; a ValueError for a name that is not a version."""
    match = VERSION_PATTERN.match(name)
    if match is None:
        raise ValueError(f"not a model version: {name!r}")
    return int(match.group(1))


def is_model_folder(path: Path) -> bool:
    """Whether `path` is one model folder, not a registry of them: the choice every command and
    the bot make about MODEL_DIR."""
    return (path / METADATA_FILE).exists()


def shipped_versions() -> list[Path]:
    """Every shipped model folder, oldest first."""
    folders = [p for p in SHIPPED_DIR.iterdir() if VERSION_PATTERN.match(p.name) and is_model_folder(p)]
    return sorted(folders, key=lambda p: version_number(p.name))


SHIPPED_MODEL = shipped_versions()[-1]
"""The newest shipped model: what a fresh install answers with."""


class RegistryError(RuntimeError):
    pass


class ChampionChanged(RegistryError):
    """The champion is no longer the one a decision was made against (someone else changed it)."""


class UnusableModel(RegistryError):
    """A model folder that does not load or answer as the bot needs: never made champion, passed
    over when it is one. One reason per folder tried."""

    def __init__(self, *reasons: str) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def probe_crops() -> np.ndarray:
    """Four fixed 128x128 crops: two of noise, then flat black and flat white, the extremes. What a
    model answers on them says nothing of its accuracy (the gate's business), only that it loads,
    runs and answers."""
    noise = np.random.default_rng(0).integers(0, 256, (2, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    flat = np.stack([np.full((IMAGE_SIZE, IMAGE_SIZE, 3), value, dtype=np.uint8) for value in (0, 255)])
    return np.concatenate([noise, flat])


def load_checked(model_dir: Path) -> Predictor:
    """`model_dir` loaded as the bot loads it (`model.predictor.Predictor`), once it has classified
    the probe crops into finite probabilities that sum to 1, one row of every class per crop;
    UnusableModel with the reason otherwise."""
    from model.predictor import Predictor

    crops = probe_crops()
    try:
        predictor = Predictor(model_dir, warm_up=False)  # the probe warms it up
        probabilities = predictor.probabilities(crops)
    # Whatever stops the load (ONNX Runtime's own error types, a bad metadata.json, a missing file)
    # means the same: this folder cannot answer users.
    except Exception as error:
        raise UnusableModel(f"{model_dir.name} does not load ({type(error).__name__}: {error})") from error
    expected = (len(crops), len(CLASS_NAMES))
    if probabilities.shape != expected:
        raise UnusableModel(
            f"{model_dir.name} answers shape {probabilities.shape} for {len(crops)} crops, not {expected}"
        )
    if not np.isfinite(probabilities).all() or not np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-3):
        raise UnusableModel(f"{model_dir.name} answers probabilities that are not finite or do not sum to 1")
    return predictor


def check_servable(model_dir: Path) -> None:
    """Refuse (UnusableModel) a folder the bots could not serve: one without `model.onnx` (bots
    and the console run no TensorFlow), or one that fails `load_checked`."""
    if not (model_dir / ONNX_FILE).exists():
        raise UnusableModel(
            f"{model_dir.name} has no {ONNX_FILE}, which the bots serve; write it with `maskbot models export`"
        )
    load_checked(model_dir)


@dataclass(frozen=True)
class Answering:
    """The model to answer with (`load_answering`)."""

    path: Path
    predictor: Predictor | None
    """None when `path` is the folder already answering, which is kept rather than loaded again."""
    failures: tuple[str, ...] = ()
    """Why each newer champion was passed over, newest first; empty when the champion answers."""


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise RegistryError(f"{path} is not valid JSON ({error}); restore it or remove that version") from None


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


def active_model_dir(model_dir: Path, seed: bool = True) -> Path:
    """The folder to load: `model_dir` itself when it is one model, else its registry's champion
    (an empty registry is first seeded with the shipped models, unless `seed` is false)."""
    if is_model_folder(model_dir):
        return model_dir
    registry = Registry(model_dir)
    if seed:
        registry.seed()
    return registry.champion_dir()


def load_answering(model_dir: Path, keep: Path | None = None) -> Answering:
    """The model a bot answers with: `model_dir` itself when it is one model folder, else its
    registry's champion (an empty registry is seeded first); a champion that fails `load_checked`
    gives way to the champions before it, most recent first, down to the first that loads. The
    registry is left as it is: the operator's choice stays on record, to be fixed.

    `keep` is the folder answering now: reached, it is kept as it is. UnusableModel, with every
    reason, when nothing loads."""
    if is_model_folder(model_dir):
        order = [model_dir]
    else:
        registry = Registry(model_dir)
        registry.seed()
        order = [registry.root / name for name in registry.champions()]
    failures: list[str] = []
    for path in order:
        if keep is not None and path.resolve() == keep.resolve():
            return Answering(path, None, tuple(failures))
        try:
            return Answering(path, load_checked(path), tuple(failures))
        except UnusableModel as error:
            failures.extend(error.reasons)
    raise UnusableModel(*failures)


def open_registry(model_dir: Path, seed: bool = True) -> Registry:
    """The registry at `model_dir`, seeded with the shipped models it lacks (unless `seed` is
    false); a RegistryError when `model_dir` is one model folder, which has no versions to
    promote or roll back."""
    if is_model_folder(model_dir):
        raise RegistryError(
            f"MODEL_DIR={model_dir} is a single model folder, not a registry; "
            "point MODEL_DIR at a registry folder (default: DATA_DIR/models)"
        )
    registry = Registry(model_dir)
    if seed:
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
        if not self._unseeded(folders):  # the usual start: nothing to write, so no lock either
            return
        with self._changing():
            self._seed(self._unseeded(folders))

    def _unseeded(self, folders: list[Path]) -> list[Path]:
        """The shipped folders this registry has not taken in yet: all of them when it is empty."""
        if not self.version_names():
            return folders
        # Registries seeded before shipped models were named in the history hold shipped v1.
        imported = {entry.get("shipped", "v1") for entry in self.history() if entry["action"] in ("seed", "import")}
        return [folder for folder in folders if folder.name not in imported]

    def _seed(self, folders: list[Path]) -> None:
        fresh = not self.version_names()
        for folder in folders:
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
                self._promote(version, f"shipped model {folder.name}, the newest", forced=False)

    def version_names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        names = [
            p.name for p in self.root.iterdir() if p.is_dir() and VERSION_PATTERN.match(p.name) and is_model_folder(p)
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

    def champions(self) -> list[str]:
        """The champion, then every version that was champion before it, most recent first, each
        once: where a bot falls back when the champion cannot load."""
        names = set(self.version_names())
        order = [self.champion()]
        for entry in reversed(self.history()):
            version = entry["version"]
            if entry["action"] != "import" and version in names and version not in order:
                order.append(version)
        return order

    def versions(self) -> list[VersionInfo]:
        champion = self.champion() if self._champion_file.exists() else None
        promoted = {entry["version"] for entry in self.history() if entry["action"] != "import"}
        infos = []
        for name in self.version_names():
            path = self.root / name
            gate = _read_json(path / "gate.json") if (path / "gate.json").exists() else None
            if gate is not None and not isinstance(gate, dict):
                raise RegistryError(f"{path / 'gate.json'} holds no gate result")
            if name == champion:
                status = "champion"
            elif name in promoted:
                status = "retired"
            elif gate is not None and not gate.get("promote", False):
                status = "rejected"
            else:
                status = "candidate"
            infos.append(VersionInfo(name, path, _read_json(path / METADATA_FILE), status, gate))
        return infos

    def promote(self, version: str, reason: str, forced: bool = False, expected_champion: str | None = None) -> None:
        """Make `version` the champion, if the bots can serve it (`check_servable`; UnusableModel
        with the reason otherwise). With `expected_champion` ("" for none), only if the champion
        is still that one: a decision taken on a page someone else's change made stale is refused."""
        with self._changing():
            self._check_champion(expected_champion)
            self._check_servable(version)
            self._promote(version, reason, forced)

    def _check_servable(self, version: str) -> None:
        if version not in self.version_names():
            raise RegistryError(f"no version {version!r} in {self.root}; see `maskbot models list`")
        check_servable(self.root / version)

    def _promote(self, version: str, reason: str, forced: bool) -> None:
        previous = self.champion() if self._champion_file.exists() else None
        self._write_champion(version)
        self._log({"action": "promote", "version": version, "previous": previous, "reason": reason, "forced": forced})

    def rollback_target(self) -> str:
        """The champion before the current one: what `rollback` would bring back."""
        current = self.champion()
        for entry in reversed(self.history()):
            if entry.get("version") == current and entry.get("previous"):
                return entry["previous"]
        raise RegistryError(f"{current} has no earlier champion to roll back to")

    def rollback(self, reason: str = "rollback", expected_champion: str | None = None) -> str:
        """Make the champion before the current one champion again, if the bots can serve it;
        returns it. `expected_champion` as for `promote`."""
        with self._changing():
            self._check_champion(expected_champion)
            current, previous = self.champion(), self.rollback_target()
            self._check_servable(previous)
            self._write_champion(previous)
            self._log(
                {"action": "rollback", "version": previous, "previous": current, "reason": reason, "forced": False}
            )
        return previous

    def _check_champion(self, expected: str | None) -> None:
        if expected is None:
            return
        current = self.champion() if self._champion_file.exists() else ""
        if current != expected:
            raise ChampionChanged(
                f"the champion is {current or 'unset'} now, not {expected or 'unset'}: someone changed it meanwhile"
            )

    @contextlib.contextmanager
    def _changing(self) -> Iterator[None]:
        """One change at a time across processes (bots seeding, the console, the CLI): an
        exclusive lock on MODEL_DIR/.lock, released when the change is written."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def history(self) -> list[dict]:
        if not self._history_file.exists():
            return []
        entries = []
        for number, line in enumerate(self._history_file.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                raise RegistryError(f"line {number} of {self._history_file} is not valid JSON") from None
            if not isinstance(entry, dict) or not isinstance(entry.get("action"), str) or "version" not in entry:
                raise RegistryError(f"line {number} of {self._history_file} is not a history entry")
            entries.append(entry)
        return entries

    def _write_champion(self, version: str) -> None:
        partial = self._champion_file.with_suffix(".tmp")
        partial.write_text(version + "\n")
        os.replace(partial, self._champion_file)

    def _log(self, entry: dict) -> None:
        entry = {"at": datetime.now(UTC).isoformat(timespec="seconds"), **entry}
        with self._history_file.open("a") as handle:
            handle.write(json.dumps(entry) + "\n")
