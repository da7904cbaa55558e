"""Every button's callback data, encoded and decoded in one place.

Callback data comes back from Telegram as the client sent it, so it is untrusted input: a
decoder returns None for anything this module did not write (wrong part count, an id that is not
a small positive number, a label index out of range, an unknown action), and handlers answer
None with a quiet "this button has expired" instead of an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.i18n import LANGUAGES
from storage.repository import CLASS_NAMES

FEEDBACK_PREFIX = "fb"
FORGET_PREFIX = "forget"
_ID = re.compile(r"[1-9][0-9]{0,17}")
"""A database id: positive, at most 18 digits (fits a signed 64-bit integer)."""
_TAG = re.compile(r"[0-9a-f]{12}")


@dataclass(frozen=True)
class FeedbackButton:
    """One press under a verdict: "ok" (right), "no" (wrong), "is" (the right label), "share"
    (consent for the crop, after a right answer when `label` is None, else after a correction);
    on a group photo also "face" (rate this face) and "faces" (back to the faces' numbers)."""

    prediction_id: int
    action: str
    label: str | None = None
    share: bool | None = None

    def encode(self) -> str:
        parts = [FEEDBACK_PREFIX, str(self.prediction_id), self.action]
        if self.action in ("is", "share"):
            parts.append("right" if self.label is None else str(CLASS_NAMES.index(self.label)))
        if self.action == "share":
            parts.append("1" if self.share else "0")
        return "|".join(parts)


def decode_feedback(data: str | None) -> FeedbackButton | None:
    parts = (data or "").split("|")
    if len(parts) < 3 or parts[0] != FEEDBACK_PREFIX or not _ID.fullmatch(parts[1]):
        return None
    prediction_id, action, rest = int(parts[1]), parts[2], parts[3:]
    if action in ("ok", "no", "face", "faces") and not rest:
        return FeedbackButton(prediction_id, action)
    if action == "is" and len(rest) == 1 and _label_index(rest[0]) is not None:
        return FeedbackButton(prediction_id, action, CLASS_NAMES[_label_index(rest[0])])
    if action == "share" and len(rest) == 2 and rest[1] in ("0", "1"):
        if rest[0] == "right":
            return FeedbackButton(prediction_id, action, None, rest[1] == "1")
        if _label_index(rest[0]) is not None:
            return FeedbackButton(prediction_id, action, CLASS_NAMES[_label_index(rest[0])], rest[1] == "1")
    return None


def _label_index(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) == 1 and int(text) < len(CLASS_NAMES) else None


@dataclass(frozen=True)
class ForgetButton:
    """The /forget prompt's answer. `requester` is a short tag of the asker's pseudonym, so that
    in a group only the person who asked can confirm, without a Telegram id in the button."""

    confirm: bool
    requester: str

    def encode(self) -> str:
        return f"{FORGET_PREFIX}|{'yes' if self.confirm else 'no'}|{self.requester}"


def requester_tag(pseudonym: str) -> str:
    return pseudonym[:12]


def decode_forget(data: str | None) -> ForgetButton | None:
    parts = (data or "").split("|")
    if len(parts) != 3 or parts[0] != FORGET_PREFIX or parts[1] not in ("yes", "no") or not _TAG.fullmatch(parts[2]):
        return None
    return ForgetButton(parts[1] == "yes", parts[2])


LANGUAGE_PREFIX = "lang"


@dataclass(frozen=True)
class LanguageButton:
    """A /language choice. Whoever presses it chooses for themselves, so it names no requester."""

    language: str

    def encode(self) -> str:
        return f"{LANGUAGE_PREFIX}|{self.language}"


def decode_language(data: str | None) -> LanguageButton | None:
    parts = (data or "").split("|")
    if len(parts) != 2 or parts[0] != LANGUAGE_PREFIX or parts[1] not in LANGUAGES:
        return None
    return LanguageButton(parts[1])
