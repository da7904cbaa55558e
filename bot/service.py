"""What the bot does, as plain Python: no Telegram types in or out.

Handlers turn an update into one call on one of `MaskService`'s parts and a reply; everything that
must be tested without a chat lives in those parts, each in a module of its own.
"""

from __future__ import annotations

from pathlib import Path

from bot.admission import AdmissionControl
from bot.answering_model import AnsweringModel
from bot.button_tags import ButtonTags
from bot.forgetting import Forgetting
from bot.judging import Judge
from bot.lanes import Lanes
from bot.languages import LanguageChoices
from bot.ratelimit import RateLimiter
from bot.records import Records
from model.predictor import Predictor
from storage.pseudonyms import Pseudonymizer
from storage.repository import Repository


class MaskService:
    """The bot's parts, made once and wired together; handlers and jobs reach each through here."""

    def __init__(
        self,
        predictor: Predictor,
        repository: Repository,
        pseudonymize: Pseudonymizer,
        rate_limiter: RateLimiter,
        workers: int = 2,
        model_source: Path | None = None,
    ) -> None:
        self.repository = repository
        self.pseudonymize = pseudonymize
        self.lanes = Lanes(inference_threads=workers)
        """The threads blocking work runs on (`Lanes.run_blocking` for drawing and such)."""
        self.model = AnsweringModel(predictor, self.lanes, source=model_source)
        """The model that answers, and its reloads."""
        self.admission = AdmissionControl(pseudonymize, uploads=rate_limiter)
        """The rate limits every update passes first, and one clip at a time per user."""
        self.button_tags = ButtonTags(pseudonymize)
        """What buttons carry instead of users', chats' and predictions' ids."""
        self.languages = LanguageChoices(repository, pseudonymize, self.lanes)
        """Which language each user is answered in."""
        self.records = Records(repository, pseudonymize, self.lanes)
        """Answers, feedback, stats, summaries and retention in the database."""
        self.judge = Judge(self.model, self.lanes, self.records)
        """Photos and clips judged, recorded, and judged again for "Why?" and group answers."""
        self.forgetting = Forgetting(repository, pseudonymize, self.lanes, self.languages)
        """/forget, and the photos and clips being answered that it cancels or waits for."""

    def close(self) -> None:
        """Finish the work in flight, then release the threads and the database connections."""
        self.lanes.close()
        self.repository.database.dispose()
