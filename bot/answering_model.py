"""The model that answers, and its reloads from the model registry while the bot runs."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.lanes import Lanes
from model.predictor import Predictor
from model.registry import RegistryError, UnusableModel, load_answering

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reloaded:
    """What `AnsweringModel.reload` did."""

    before: str
    now: str
    """The versions answering before and after."""
    failures: tuple[str, ...] = ()
    """Why the registry's champion, and each champion before it that was tried, cannot answer;
    empty when the champion answers."""
    news: bool = False
    """Whether admins have not been told of these failures yet (`note_failures`)."""


class AnsweringModel:
    def __init__(self, predictor: Predictor, lanes: Lanes, source: Path | None = None) -> None:
        self.predictor = predictor
        """Read at every use: `reload` swaps it."""
        self.lanes = lanes
        self.source = source
        """A registry folder to follow on reload; None pins the predictor given."""
        self.failures: tuple[str, ...] = ()
        """Why the champion could not answer at the last load (see `note_failures`)."""
        self._watchers: list[Callable[[str], None]] = []

    @property
    def version(self) -> str:
        return self.predictor.version

    @property
    def class_mix(self) -> Mapping[str, float] | None:
        """The class mix the answering model was trained on: the drift check's reference."""
        return self.predictor.metadata.get("class_mix")

    def watch(self, on_change: Callable[[str], None]) -> None:
        """Call `on_change` with the answering model's version now and after every change."""
        self._watchers.append(on_change)
        on_change(self.version)

    async def reload(self) -> Reloaded:
        """Load the registry's champion if it changed, or, when it cannot answer, the last champion
        before it that can (`model.registry.load_answering`); when none can, the model answering
        now goes on.

        The new model is loaded and warmed up on the inference threads while the old one keeps
        answering; then one assignment swaps them, so no photo sees a half-loaded model."""

        before = self.predictor.version
        if self.source is None:
            return Reloaded(before, before)
        try:
            answering = await self.lanes.run_blocking(load_answering, self.source, Path(self.predictor.model_dir))
        except UnusableModel as error:
            failures = error.reasons
        except RegistryError as error:  # a registry it cannot read (a damaged history, say)
            failures = (str(error),)
        else:
            failures = answering.failures
            if answering.predictor is not None:
                self.predictor = answering.predictor
                log.info("event=model_reloaded before=%s now=%s", before, self.predictor.version)
                for on_change in self._watchers:
                    on_change(self.predictor.version)
        news = self.note_failures(failures)
        return Reloaded(before, self.predictor.version, failures, news)

    def note_failures(self, failures: tuple[str, ...]) -> bool:
        """Log why the champion cannot answer (an ERROR line at every load) and remember it;
        True when it is news to admins: they are alerted once a trouble, not at every daily check."""
        if failures:
            log.error("event=model_unusable model=%s failures=%s", self.predictor.version, " | ".join(failures))
        news = bool(failures) and failures != self.failures
        self.failures = failures
        return news

    def summary(self) -> dict:
        """What /model shows admins."""
        metadata = self.predictor.metadata
        size = sum(f.stat().st_size for f in Path(self.predictor.model_dir).iterdir() if f.is_file())
        return {
            "version": self.predictor.version,
            "architecture": metadata.get("architecture"),
            "parameters": metadata.get("parameters"),
            "created": metadata.get("created"),
            "size_bytes": size,
            "threshold": self.predictor.threshold,
            "temperature": self.predictor.temperature,
            "metrics": metadata.get("metrics", {}),
        }
