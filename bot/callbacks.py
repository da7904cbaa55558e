"""Every button's callback data, encoded and decoded in one place.

Callback data comes back from Telegram as the client sent it, so it is untrusted input: a
decoder returns None for anything this module did not write (wrong part count, a malformed token,
a label index out of range, an unknown action), and handlers answer None with a quiet "this
button has expired" instead of an error.
"""

from __future__ import annotations

import base64
import hmac
import re
from dataclasses import dataclass

from bot.i18n import LANGUAGES
from storage.pseudonyms import Pseudonymizer
from storage.repository import CLASS_NAMES

FEEDBACK_PREFIX = "fb"
FORGET_PREFIX = "forget"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{22}")
"""A RowTokens token: 16 bytes in URL-safe base64, unpadded."""
_TAG = re.compile(r"[0-9a-f]{12}")


class RowTokens:
    """What a button carries instead of a prediction's row id, bound to the chat it is shown in.

    A row id in a button would let anyone holding a copy of the database link its rows to the
    chats (and so the people) the buttons were shown in. A token is the id encrypted under keys
    derived from the pseudonym secret, with the chat as associated data: deterministic
    authenticated encryption in the SIV manner (an 8-byte MAC of chat and id is the IV, and the
    id is XORed with a keystream drawn from it), HMAC-SHA256 for both. Without the secret a
    token links to no row; a token the bot did not make, or one pressed in another chat than
    its own, fails the MAC and decodes to None."""

    def __init__(self, keys: Pseudonymizer) -> None:
        self._mac = keys.derive("row-token-mac")
        self._stream = keys.derive("row-token-stream")

    def encode(self, row_id: int, chat_id: int) -> str:
        plain = row_id.to_bytes(8, "big")
        iv = self._mac.digest(chat_id.to_bytes(8, "big", signed=True) + plain)[:8]
        cipher = bytes(a ^ b for a, b in zip(plain, self._stream.digest(iv), strict=False))
        return base64.urlsafe_b64encode(iv + cipher).decode().rstrip("=")

    def decode(self, token: str, chat_id: int) -> int | None:
        if not _TOKEN.fullmatch(token):
            return None
        raw = base64.urlsafe_b64decode(token + "==")
        iv, cipher = raw[:8], raw[8:]
        plain = bytes(a ^ b for a, b in zip(cipher, self._stream.digest(iv), strict=False))
        if not hmac.compare_digest(iv, self._mac.digest(chat_id.to_bytes(8, "big", signed=True) + plain)[:8]):
            return None
        return int.from_bytes(plain, "big")


@dataclass(frozen=True)
class FeedbackButton:
    """One press under a verdict: "ok" (right), "no" (wrong), "is" (the right label), "share"
    (consent for the crop, after a right answer when `label` is None, else after a correction),
    "why" (where the network looked); on a group photo also "face" (rate this face) and "faces"
    (back to the faces' numbers). `token` stands for the prediction (RowTokens)."""

    token: str
    action: str
    label: str | None = None
    share: bool | None = None

    def encode(self) -> str:
        parts = [FEEDBACK_PREFIX, self.token, self.action]
        if self.action in ("is", "share"):
            parts.append("right" if self.label is None else str(CLASS_NAMES.index(self.label)))
        if self.action == "share":
            parts.append("1" if self.share else "0")
        return "|".join(parts)


def decode_feedback(data: str | None) -> FeedbackButton | None:
    parts = (data or "").split("|")
    if len(parts) < 3 or parts[0] != FEEDBACK_PREFIX or not _TOKEN.fullmatch(parts[1]):
        return None
    token, action, rest = parts[1], parts[2], parts[3:]
    if action in ("ok", "no", "why", "face", "faces") and not rest:
        return FeedbackButton(token, action)
    if action == "is" and len(rest) == 1 and _label_index(rest[0]) is not None:
        return FeedbackButton(token, action, CLASS_NAMES[_label_index(rest[0])])
    if action == "share" and len(rest) == 2 and rest[1] in ("0", "1"):
        if rest[0] == "right":
            return FeedbackButton(token, action, None, rest[1] == "1")
        if _label_index(rest[0]) is not None:
            return FeedbackButton(token, action, CLASS_NAMES[_label_index(rest[0])], rest[1] == "1")
    return None


def _label_index(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) == 1 and int(text) < len(CLASS_NAMES) else None


@dataclass(frozen=True)
class ForgetButton:
    """The /forget prompt's answer. `requester` is a short keyed tag of the asker
    (`MaskService.requester_tag`), so that in a group only the person who asked can confirm,
    without a Telegram id in the button."""

    confirm: bool
    requester: str

    def encode(self) -> str:
        return f"{FORGET_PREFIX}|{'yes' if self.confirm else 'no'}|{self.requester}"


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
