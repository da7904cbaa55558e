"""Every button's callback data, encoded and decoded in one place.

Callback data comes back from Telegram as the client sent it, so it is untrusted input: a
decoder returns None for anything this module did not write (wrong part count, a malformed token,
a label index out of range, an unknown action), and handlers answer None with a quiet "this
button has expired" instead of an error. A button is refused when it is made (ValueError) unless
its decoder would take it back, and what a button encodes to fits Telegram's MAX_DATA_BYTES.

Which handler a press goes to is decided here too: `matches(prefix)` is the
`CallbackQueryHandler` pattern for each kind of button.
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from bot.i18n import LANGUAGES
from model import CLASS_NAMES
from storage.pseudonyms import Pseudonymizer

MAX_DATA_BYTES = 64
"""Telegram's limit on a button's callback data, in UTF-8 bytes."""
SEPARATOR = "|"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{21}[AQgw]")
"""A RowTokens token: 16 bytes in URL-safe base64, unpadded. Its last character holds 2 bits and
4 zero bits, so only A, Q, g or w end one: any other would decode to the same bytes as one of
these, and be a token this module did not write."""
_TAG = re.compile(r"[0-9a-f]{12}")
"""A requester or chat tag (`bot.button_tags.ButtonTags`)."""
_LABEL_INDEX = re.compile(r"[0-9]")
"""One ASCII digit: str.isdigit() also takes "²" (which int() refuses) and "٢" (which it reads as 2)."""


class Prefix(StrEnum):
    """The first part of a button's data: which kind of button it is."""

    FEEDBACK = "fb"
    FORGET = "forget"
    LANGUAGE = "lang"


def matches(prefix: Prefix) -> Callable[[object], bool]:
    """A `CallbackQueryHandler` pattern: whether a press's data starts as `prefix`'s buttons do.
    Well-formed or not: the handler decodes it, and answers a malformed one as expired."""
    start = prefix.value + SEPARATOR

    def pattern(data: object) -> bool:
        return isinstance(data, str) and data.startswith(start)

    pattern.__name__ = f"matches_{prefix.name.lower()}"
    return pattern


def _join(*parts: str) -> str:
    data = SEPARATOR.join(parts)
    if len(data.encode()) > MAX_DATA_BYTES:
        raise ValueError(f"callback data over {MAX_DATA_BYTES} bytes: {data!r}")
    return data


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


FEEDBACK_ACTIONS = ("ok", "no", "is", "share", "why", "face", "faces", "everyone")


@dataclass(frozen=True)
class FeedbackButton:
    """One press under a verdict: "ok" (right), "no" (wrong), "is" (the right label), "share"
    (consent for the crop, after a right answer when `label` is None, else after a correction),
    "why" (where the network looked); on a group photo also "face" (rate this face) and "faces"
    (back to the faces' numbers); under the answer about a photo's main face, "everyone" (the
    group answer for every face). `token` stands for the prediction (RowTokens)."""

    token: str
    action: str
    label: str | None = None
    share: bool | None = None

    def __post_init__(self) -> None:
        if not _TOKEN.fullmatch(self.token) or self.action not in FEEDBACK_ACTIONS:
            raise ValueError(f"not a feedback button: {self!r}")
        if self.label is not None and (self.label not in CLASS_NAMES or self.action not in ("is", "share")):
            raise ValueError(f"a label only for is or share, one of {CLASS_NAMES}: {self!r}")
        if self.action == "is" and self.label is None:
            raise ValueError(f"is needs its label: {self!r}")
        if (self.action == "share") != (self.share is not None):
            raise ValueError(f"share, and only share, says yes or no: {self!r}")

    def encode(self) -> str:
        parts = [Prefix.FEEDBACK.value, self.token, self.action]
        if self.action in ("is", "share"):
            parts.append("right" if self.label is None else str(CLASS_NAMES.index(self.label)))
        if self.action == "share":
            parts.append("1" if self.share else "0")
        return _join(*parts)


def decode_feedback(data: str | None) -> FeedbackButton | None:
    parts = (data or "").split(SEPARATOR)
    if len(parts) < 3 or parts[0] != Prefix.FEEDBACK or not _TOKEN.fullmatch(parts[1]):
        return None
    token, action, rest = parts[1], parts[2], parts[3:]
    if action in ("ok", "no", "why", "face", "faces", "everyone") and not rest:
        return FeedbackButton(token, action)
    if action == "is" and len(rest) == 1 and (label := _label(rest[0])) is not None:
        return FeedbackButton(token, action, label)
    if action == "share" and len(rest) == 2 and rest[1] in ("0", "1"):
        if rest[0] == "right":
            return FeedbackButton(token, action, None, rest[1] == "1")
        if (label := _label(rest[0])) is not None:
            return FeedbackButton(token, action, label, rest[1] == "1")
    return None


def _label(text: str) -> str | None:
    """The class name a label index stands for; None for anything but one of its digits."""
    return CLASS_NAMES[int(text)] if _LABEL_INDEX.fullmatch(text) and int(text) < len(CLASS_NAMES) else None


@dataclass(frozen=True)
class ForgetButton:
    """The /forget prompt's answer. `requester` is a short keyed tag of the asker
    (`ButtonTags.requester`), so that in a group only the person who asked can confirm,
    without a Telegram id in the button; `chat` one of the chat it is shown in
    (`ButtonTags.chat`), so that it works only there."""

    confirm: bool
    requester: str
    chat: str

    def __post_init__(self) -> None:
        if not _TAG.fullmatch(self.requester) or not _TAG.fullmatch(self.chat):
            raise ValueError(f"not a requester and a chat tag: {self.requester!r}, {self.chat!r}")

    def encode(self) -> str:
        return _join(Prefix.FORGET.value, "yes" if self.confirm else "no", self.requester, self.chat)


def decode_forget(data: str | None) -> ForgetButton | None:
    parts = (data or "").split(SEPARATOR)
    if len(parts) != 4 or parts[0] != Prefix.FORGET or parts[1] not in ("yes", "no"):
        return None
    if not _TAG.fullmatch(parts[2]) or not _TAG.fullmatch(parts[3]):
        return None
    return ForgetButton(parts[1] == "yes", parts[2], parts[3])


@dataclass(frozen=True)
class LanguageButton:
    """A /language choice. Whoever presses it chooses for themselves, so it names no requester."""

    language: str

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ValueError(f"no catalog for {self.language!r}")

    def encode(self) -> str:
        return _join(Prefix.LANGUAGE.value, self.language)


def decode_language(data: str | None) -> LanguageButton | None:
    parts = (data or "").split(SEPARATOR)
    if len(parts) != 2 or parts[0] != Prefix.LANGUAGE or parts[1] not in LANGUAGES:
        return None
    return LanguageButton(parts[1])
