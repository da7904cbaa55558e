"""The callback-data codec (bot.callbacks): what every button encodes to, that it decodes back,
that it fits Telegram's 64 bytes, that anything it did not write decodes to None without raising,
and that `matches` routes each kind of button to its handler."""

from __future__ import annotations

import base64

import pytest
from telegram import CallbackQuery, Update, User
from telegram.ext import CallbackQueryHandler

from bot.callbacks import (
    MAX_DATA_BYTES,
    FeedbackButton,
    ForgetButton,
    LanguageButton,
    Prefix,
    RowTokens,
    decode_feedback,
    decode_forget,
    decode_language,
    matches,
)
from bot.i18n import LANGUAGES
from model import CLASS_NAMES
from storage.pseudonyms import Pseudonymizer

TOKEN = "AbCdEfGhIjKlMnOpQrSt-w"
"""A well-formed row token: 22 URL-safe base64 characters, the last one of A, Q, g, w."""
TAG = "0123456789ab"
CHAT = "fedcba987654"
SECRET = b"k" * 16 + b"0123456789abcdef"


def every_feedback_button(token: str = TOKEN) -> list[FeedbackButton]:
    buttons = [FeedbackButton(token, action) for action in ("ok", "no", "why", "face", "faces")]
    buttons += [FeedbackButton(token, "is", label) for label in CLASS_NAMES]
    buttons += [
        FeedbackButton(token, "share", label, share) for label in (None, *CLASS_NAMES) for share in (True, False)
    ]
    return buttons


def every_button() -> list[FeedbackButton | ForgetButton | LanguageButton]:
    return [
        *every_feedback_button(),
        ForgetButton(True, TAG, CHAT),
        ForgetButton(False, TAG, CHAT),
        *(LanguageButton(language) for language in LANGUAGES),
    ]


# What buttons already shown in chats carry: these strings must keep decoding (but /forget prompts
# shown before they were bound to their chat, which must no longer work).
@pytest.mark.parametrize(
    "button, data",
    [
        (FeedbackButton(TOKEN, "ok"), f"fb|{TOKEN}|ok"),
        (FeedbackButton(TOKEN, "no"), f"fb|{TOKEN}|no"),
        (FeedbackButton(TOKEN, "why"), f"fb|{TOKEN}|why"),
        (FeedbackButton(TOKEN, "face"), f"fb|{TOKEN}|face"),
        (FeedbackButton(TOKEN, "faces"), f"fb|{TOKEN}|faces"),
        (FeedbackButton(TOKEN, "is", "with_mask"), f"fb|{TOKEN}|is|0"),
        (FeedbackButton(TOKEN, "is", "without_mask"), f"fb|{TOKEN}|is|1"),
        (FeedbackButton(TOKEN, "is", "mask_weared_incorrect"), f"fb|{TOKEN}|is|2"),
        (FeedbackButton(TOKEN, "share", None, True), f"fb|{TOKEN}|share|right|1"),
        (FeedbackButton(TOKEN, "share", None, False), f"fb|{TOKEN}|share|right|0"),
        (FeedbackButton(TOKEN, "share", "without_mask", True), f"fb|{TOKEN}|share|1|1"),
        (FeedbackButton(TOKEN, "share", "mask_weared_incorrect", False), f"fb|{TOKEN}|share|2|0"),
        (ForgetButton(True, TAG, CHAT), f"forget|yes|{TAG}|{CHAT}"),
        (ForgetButton(False, TAG, CHAT), f"forget|no|{TAG}|{CHAT}"),
        (LanguageButton("en"), "lang|en"),
        (LanguageButton("es"), "lang|es"),
    ],
)
def test_each_button_encodes_to_its_data(button, data):
    assert button.encode() == data


def test_the_class_names_keep_their_indices():
    """A label travels as its index in CLASS_NAMES: reordering them would relabel shown buttons."""
    assert CLASS_NAMES == ("with_mask", "without_mask", "mask_weared_incorrect")


@pytest.mark.parametrize("button", every_feedback_button(), ids=repr)
def test_every_feedback_button_round_trips(button):
    assert decode_feedback(button.encode()) == button


@pytest.mark.parametrize("button", [ForgetButton(True, TAG, CHAT), ForgetButton(False, TAG, CHAT)], ids=repr)
def test_every_forget_button_round_trips(button):
    assert decode_forget(button.encode()) == button


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_every_language_button_round_trips(language):
    assert decode_language(LanguageButton(language).encode()) == LanguageButton(language)


def test_every_button_fits_telegrams_64_bytes():
    assert MAX_DATA_BYTES == 64
    lengths = {type(button).__name__: 0 for button in every_button()}
    for button in every_button():
        name = type(button).__name__
        lengths[name] = max(lengths[name], len(button.encode().encode()))
    assert lengths == {"FeedbackButton": 39, "ForgetButton": 36, "LanguageButton": 7}


@pytest.mark.parametrize(
    "make",
    [
        lambda: FeedbackButton("short", "ok"),
        lambda: FeedbackButton(TOKEN + "A", "ok"),
        lambda: FeedbackButton(TOKEN[:-1] + "B", "ok"),  # not a token this module writes
        lambda: FeedbackButton(TOKEN, "explode"),
        lambda: FeedbackButton(TOKEN, "is"),
        lambda: FeedbackButton(TOKEN, "is", "beard"),
        lambda: FeedbackButton(TOKEN, "ok", "with_mask"),
        lambda: FeedbackButton(TOKEN, "ok", share=True),
        lambda: FeedbackButton(TOKEN, "share"),
        lambda: FeedbackButton(TOKEN, "share", "beard", True),
        lambda: ForgetButton(True, "x" * 100, CHAT),
        lambda: ForgetButton(True, TAG.upper(), CHAT),
        lambda: ForgetButton(True, "", CHAT),
        lambda: ForgetButton(True, TAG, ""),
        lambda: ForgetButton(True, TAG, CHAT + "0"),
        lambda: LanguageButton("fr"),
        lambda: LanguageButton("en|es"),
    ],
)
def test_a_button_its_decoder_would_refuse_cannot_be_made(make):
    with pytest.raises(ValueError):
        make()


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "fb",
        "fb|",
        "fb||ok",
        f"fb|{TOKEN}",
        f"fb|{TOKEN}|",
        f"FB|{TOKEN}|ok",
        f"fb |{TOKEN}|ok",
        f"fb|{TOKEN}|OK",
        f"fb|{TOKEN}|explode",
        f"fb|{TOKEN}|ok|x",
        f"fb|{TOKEN}|why|5",
        f"fb|{TOKEN}|face|1",
        f"fb|{TOKEN}|is",
        f"fb|{TOKEN}|is|3",
        f"fb|{TOKEN}|is|9",
        f"fb|{TOKEN}|is|-1",
        f"fb|{TOKEN}|is|01",
        f"fb|{TOKEN}|is| 1",
        f"fb|{TOKEN}|is|1 ",
        f"fb|{TOKEN}|is|²",  # str.isdigit() takes it, int() refuses it
        f"fb|{TOKEN}|is|٢",  # ARABIC-INDIC DIGIT TWO: int() reads it as 2
        f"fb|{TOKEN}|is|right",
        f"fb|{TOKEN}|is|with_mask",
        f"fb|{TOKEN}|is|1|1",
        f"fb|{TOKEN}|share",
        f"fb|{TOKEN}|share|1",
        f"fb|{TOKEN}|share|right|2",
        f"fb|{TOKEN}|share|right|yes",
        f"fb|{TOKEN}|share|3|1",
        f"fb|{TOKEN}|share|right|1|1",
        f"fb|{TOKEN}|ok\n",
        f"fb|{TOKEN[:-1]}|ok",
        f"fb|{TOKEN}A|ok",
        f"fb|{TOKEN[:-1]}B|ok",  # the same 16 bytes as ...w, but not as this module writes them
        f"fb|{TOKEN[:-1]}=|ok",
        f"fb|{TOKEN[:-2]}+/|ok",  # standard base64, not URL-safe
        f"fb|{TOKEN[:-1]}\u0391|ok",
        f"fb|{TOKEN}\n|ok",
        f"fb|{TOKEN}|ok|" + "x" * 10_000,
        "fb" + "|" * 100,
        "\x00" * 64,
        f"forget|yes|{TAG}|{CHAT}",
        "lang|en",
    ],
)
def test_anything_else_is_no_feedback_button(data):
    assert decode_feedback(data) is None


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "forget",
        "forget|yes",
        f"forget|yes|{TAG}",  # a prompt bound to no chat (before they were)
        f"forget|yes|{TAG}|x",
        f"forget|yes|{TAG}|{CHAT}|{CHAT}",
        f"forget|maybe|{TAG}|{CHAT}",
        f"forget|YES|{TAG}|{CHAT}",
        f"forget|yes|{TAG.upper()}|{CHAT}",
        f"forget|yes|{TAG[:-1]}|{CHAT}",
        f"forget|yes|{TAG}0|{CHAT}",
        f"forget|yes|{TAG}|{CHAT}\n",
        "forget|yes|" + "g" * 12 + f"|{CHAT}",
        f"forget|yes|{TAG}|" + "g" * 12,
        f"Forget|yes|{TAG}|{CHAT}",
        f"fb|{TOKEN}|ok",
        "lang|en",
    ],
)
def test_anything_else_is_no_forget_button(data):
    assert decode_forget(data) is None


@pytest.mark.parametrize(
    "data", [None, "", "lang", "lang|", "lang|fr", "lang|EN", "lang|en|x", "lang|en\n", "LANG|en", "lang||en", "en"]
)
def test_anything_else_is_no_language_button(data):
    assert decode_language(data) is None


def test_each_decoder_takes_only_its_own_kind():
    for button in every_button():
        data = button.encode()
        decoded = (decode_feedback(data), decode_forget(data), decode_language(data))
        assert [value for value in decoded if value is not None] == [button]


# Routing: which handler a press goes to.


def test_the_prefixes_are_the_ones_shown_buttons_carry():
    assert [prefix.value for prefix in Prefix] == ["fb", "forget", "lang"]


@pytest.mark.parametrize("prefix", list(Prefix))
def test_matches_routes_each_button_to_its_own_handler_only(prefix):
    decoder = {Prefix.FEEDBACK: decode_feedback, Prefix.FORGET: decode_forget, Prefix.LANGUAGE: decode_language}
    routed = [button for button in every_button() if matches(prefix)(button.encode())]
    assert routed == [button for button in every_button() if decoder[prefix](button.encode()) == button]
    assert routed


@pytest.mark.parametrize(
    "prefix, data, expected",
    [
        # A malformed press of a known kind still reaches its handler, which answers it as expired.
        (Prefix.FEEDBACK, "fb|garbage", True),
        (Prefix.FEEDBACK, "fb|", True),
        (Prefix.FORGET, "forget|", True),
        (Prefix.LANGUAGE, "lang|fr", True),
        (Prefix.FEEDBACK, "fb", False),
        (Prefix.FEEDBACK, "fbx|", False),
        (Prefix.FEEDBACK, "xfb|", False),
        (Prefix.FEEDBACK, "FB|", False),
        (Prefix.FORGET, "forget", False),
        (Prefix.FORGET, "forgetting|", False),
        (Prefix.LANGUAGE, "language|en", False),
        (Prefix.LANGUAGE, "", False),
        (Prefix.LANGUAGE, None, False),
        (Prefix.FEEDBACK, 5, False),
        (Prefix.FEEDBACK, object(), False),
        (Prefix.FEEDBACK, b"fb|x", False),
    ],
)
def test_matches_looks_at_the_prefix_of_string_data_only(prefix, data, expected):
    assert matches(prefix)(data) is expected


def press(data: str) -> Update:
    user = User(1, "Ana", is_bot=False)
    return Update(1, callback_query=CallbackQuery("7", user, chat_instance="c", data=data))


@pytest.mark.parametrize("prefix", list(Prefix))
def test_python_telegram_bot_routes_presses_with_matches(prefix):
    handler = CallbackQueryHandler(lambda update, context: None, pattern=matches(prefix))
    for button in every_button():
        assert handler.check_update(press(button.encode())) is matches(prefix)(button.encode())
    assert handler.check_update(press("nothing|known")) is False


# Row tokens: what a feedback button carries for its prediction.


@pytest.fixture()
def tokens() -> RowTokens:
    return RowTokens(Pseudonymizer(SECRET))


@pytest.mark.parametrize("row_id", [0, 1, 41, 2**31, 2**63 - 1, 2**64 - 1])
@pytest.mark.parametrize("chat_id", [1, 123456789, -1, -1001234567890, 2**63 - 1, -(2**63)])
def test_a_row_token_round_trips_in_its_own_chat(tokens, row_id, chat_id):
    token = tokens.encode(row_id, chat_id)
    assert len(token) == 22 and token[-1] in "AQgw"
    assert decode_feedback(FeedbackButton(token, "ok").encode()) == FeedbackButton(token, "ok")
    assert tokens.decode(token, chat_id) == row_id


def test_a_row_token_is_the_same_each_time_and_differs_per_row_and_chat(tokens):
    assert tokens.encode(41, -100) == tokens.encode(41, -100)
    made = {tokens.encode(row, chat) for row in range(50) for chat in (-100, -101, 7)}
    assert len(made) == 150


def test_a_row_token_pressed_in_another_chat_stands_for_nothing(tokens):
    token = tokens.encode(41, -100)
    assert tokens.decode(token, -101) is None
    assert tokens.decode(token, 100) is None


def test_a_row_token_of_another_secret_stands_for_nothing(tokens):
    other = RowTokens(Pseudonymizer(b"o" * 32))
    assert other.decode(tokens.encode(41, -100), -100) is None


def test_the_row_id_is_not_readable_from_the_token(tokens):
    raw = base64.urlsafe_b64decode(tokens.encode(1, -100) + "==")
    assert len(raw) == 16 and (1).to_bytes(8, "big") not in raw


def test_every_altered_character_of_a_row_token_is_refused(tokens):
    token = tokens.encode(41, -100)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    altered = [token[:i] + c + token[i + 1 :] for i in range(len(token)) for c in alphabet if c != token[i]]
    assert len(altered) == 22 * 63
    assert [tokens.decode(forged, -100) for forged in altered] == [None] * len(altered)


@pytest.mark.parametrize(
    "token",
    ["", "A" * 21, "A" * 23, "A" * 21 + "B", "A" * 21 + "=", "+" * 22, "é" * 22, "A" * 22 + "\n", " " + "A" * 21],
)
def test_a_malformed_row_token_is_refused_without_raising(tokens, token):
    assert tokens.decode(token, -100) is None
