"""What buttons carry instead of ids: keyed tags of a user or a chat, and tokens of a
prediction's row (`bot.callbacks.RowTokens`), each under a key of its own derived from the
pseudonym secret, so that a copy of the database links none of them to a pseudonym."""

from __future__ import annotations

from bot.callbacks import RowTokens
from storage.pseudonyms import Pseudonymizer


class ButtonTags:
    def __init__(self, pseudonymize: Pseudonymizer) -> None:
        self._requester_tags = pseudonymize.derive("forget-requester")
        self._chat_tags = pseudonymize.derive("forget-chat")
        self._row_tokens = RowTokens(pseudonymize)

    def requester(self, user_id: int) -> str:
        """A short tag of the user for buttons only they may press (the /forget prompt)."""
        return self._requester_tags(user_id)[:12]

    def chat(self, chat_id: int) -> str:
        """A short tag of the chat a button is shown in (the /forget prompt), so that it works
        only there."""
        return self._chat_tags(chat_id)[:12]

    def prediction_token(self, prediction_id: int, chat_id: int) -> str:
        """What a button shown in this chat carries for this prediction."""
        return self._row_tokens.encode(prediction_id, chat_id)

    def prediction_of(self, token: str, chat_id: int) -> int | None:
        """The prediction a button pressed in this chat stands for; None for a token this bot did
        not make, or made for another chat."""
        return self._row_tokens.decode(token, chat_id)
