"""How the bot's answers read, in every language: what comes first, and what is left unsaid."""

from __future__ import annotations

import re

import numpy as np
import pytest

from bot import replies
from bot.i18n import LANGUAGES, translator
from model.faces import FaceBox
from model.framing import Framing
from model.messages import Message, Share
from model.predictor import PhotoPrediction, Prediction
from storage.repository import Deleted

TIPS = (
    Message("Move closer: your face fills only {share} of the photo.", {"share": Share(0.04)}),
    Message("It is too dark: face a window or a lamp."),
)


def prediction(label: str, unsure: bool) -> Prediction:
    framing = Framing(640, 480, True, 0.04, 0.1, 0.1, 0.2, 50.0, TIPS)
    return Prediction(label, 0.97, {}, unsure, framing, "3", 1.0, np.zeros((1, 1, 3), np.uint8))


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_sure_verdict_gives_its_advice_before_the_tips_for_a_better_photo(language):
    t = translator(language)
    blocks = replies.verdict(prediction("without_mask", unsure=False), t).split("\n\n")
    assert blocks[0].startswith("❌ ") and "\n" not in blocks[0]
    assert blocks[1:] == [t(replies.ADVICE["without_mask"]), "\n".join(f"• {t.message(tip)}" for tip in TIPS)]


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_unsure_verdict_gives_the_tips_before_asking_for_that_better_photo(language):
    t = translator(language)
    blocks = replies.verdict(prediction("with_mask", unsure=True), t).split("\n\n")
    assert blocks[0].splitlines()[1] == t(replies.LOOKS_LIKE["with_mask"])
    assert blocks[1:] == ["\n".join(f"• {t.message(tip)}" for tip in TIPS), t(replies.UNSURE_ADVICE)]


@pytest.mark.parametrize("language", LANGUAGES)
def test_forget_names_only_the_kinds_of_thing_it_deleted(language):
    t = translator(language)

    def counted(singular: str, plural: str, n: int) -> str:
        return t.ngettext(singular, plural, n).format(count=n)

    answers = counted("{count} answer", "{count} answers", 2)
    feedback = counted("{count} feedback note", "{count} feedback notes", 1)
    assert replies.forgotten(Deleted(2, 0, 0), t) == t(replies.DELETED[0]).format(first=answers)
    assert replies.forgotten(Deleted(2, 1, 0), t) == t(replies.DELETED[1]).format(first=answers, second=feedback)
    assert replies.forgotten(Deleted(0, 0, 0), t) == t(replies.NOTHING_STORED)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_crowded_group_photos_caption_fits_telegrams_limit_and_names_every_face_it_can(language):
    t = translator(language)
    faces = tuple(prediction(("without_mask", "mask_weared_incorrect")[i % 2], unsure=i % 3 == 0) for i in range(20))
    photo = PhotoPrediction(faces, (FaceBox(0, 0, 8, 8),) * 12, 9, np.zeros((1, 1, 3), np.uint8), 640, 480)
    caption = replies.group_caption(photo, t)
    assert len(caption) <= replies.CAPTION_LIMIT
    assert caption.startswith("<b>20 ")
    named = [int(match[1]) for line in caption.splitlines() if (match := re.match(r"(\d+) [✗!?] ", line))]
    assert named == list(range(1, len(named) + 1)) and len(named) >= 10
