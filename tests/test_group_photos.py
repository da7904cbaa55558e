"""Group photos end to end: real photos of ilc3's scenes through the loopback Bot API."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlalchemy import select

from bot import replies
from bot.drawing import LONGEST_SIDE
from model.explain import explain
from model.predictor import MAX_FACES
from storage.tables import Crop, Feedback, PredictionRow
from tests.support.bot_harness import ADMIN_ID, verdict_of
from tests.support.photos import encode

SCENES = ["08805275a9b645e5.jpg", "0ba460fcdb00866a.jpg", "6b2d595decd8089d.jpg"]
"""Five faces and a small one; six faces and twelve small ones; a concert crowd (over 20 faces)."""


def numbers_in(caption: str) -> list[int]:
    """Every face number the caption names: the "Mask on: 1, 3" line and one line per other face."""
    numbers = []
    for line in caption.splitlines()[1:]:
        if line.startswith(f"{replies.SYMBOL['with_mask']} {replies.VERDICT['with_mask'][1]}: "):
            numbers += [int(n) for n in line.split(": ", 1)[1].split(", ")]
        elif match := re.match(r"(\d+) [✗!?] ", line):
            numbers.append(int(match.group(1)))
    return sorted(numbers)


def rows_of(bot) -> list[PredictionRow]:
    with bot.service.repository.database.session() as session:
        return list(session.scalars(select(PredictionRow).order_by(PredictionRow.id)))


@pytest.mark.parametrize("scene", SCENES)
def test_a_group_photo_gets_one_annotated_reply_with_every_face(bot, fake, predictor, shared_data, scene):
    data = (shared_data / "ilc3" / "scenes" / scene).read_bytes()
    expected = predictor.predict_photo(data)
    fake.send_photo(7, data)
    reply = fake.wait_for(lambda: fake.calls("sendPhoto", 7))[0]
    caption = reply.params["caption"]
    faces = len(expected.faces)
    assert caption.startswith(f"<b>{faces} faces</b>: ")
    assert numbers_in(caption) == list(range(1, faces + 1))
    assert len(re.sub("<[^>]+>", "", caption)) <= replies.CAPTION_LIMIT
    if expected.too_small:
        assert f"{len(expected.too_small)} more too small to judge" in caption
    if expected.not_checked:
        assert faces == MAX_FACES and f"{expected.not_checked} more not checked" in caption
    with Image.open(io.BytesIO(reply.params["photo"])) as picture:
        picture.load()
        assert picture.format == "JPEG" and max(picture.size) <= LONGEST_SIDE
        assert picture.size[0] / picture.size[1] == pytest.approx(expected.width / expected.height, rel=0.01)
    buttons = [b for row in reply.params["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons] == [str(n) for n in range(1, faces + 1)]
    rows = rows_of(bot)
    assert [r.face_index for r in rows] == list(range(1, faces + 1))
    assert len({r.photo_id for r in rows}) == 1 and all(r.face_side >= 24 for r in rows)
    assert [r.label for r in rows] == [p.label for p in expected.faces]
    assert not fake.calls("sendMessage", 7)


def test_each_face_is_rated_on_its_own_and_its_crop_shared_only_with_consent(bot, fake, shared_data):
    fake.send_photo(8, (shared_data / "ilc3" / "scenes" / SCENES[0]).read_bytes())
    reply = fake.wait_for(lambda: fake.calls("sendPhoto", 8))[0]
    second = reply.params["reply_markup"]["inline_keyboard"][0][1]
    assert second["text"] == "2"
    fake.press(8, reply, second["callback_data"])
    rate = fake.wait_for(lambda: fake.calls("editMessageReplyMarkup"))[0].params["reply_markup"]["inline_keyboard"]
    assert [b["text"] for b in rate[0]] == ["2: 👍 Right", "2: 👎 Wrong", "2: 🔍 Why?"]
    assert rate[1][0]["text"] == replies.ALL_FACES
    fake.press(8, reply, rate[0][1]["callback_data"])  # wrong
    labels = fake.wait_for(
        lambda: len(fake.calls("editMessageReplyMarkup")) >= 2 and fake.calls("editMessageReplyMarkup")
    )[1].params["reply_markup"]["inline_keyboard"][0]
    fake.press(8, reply, labels[0]["callback_data"])  # the first other label
    consent = fake.wait_for(
        lambda: len(fake.calls("editMessageReplyMarkup")) >= 3 and fake.calls("editMessageReplyMarkup")
    )[2].params["reply_markup"]["inline_keyboard"][0]
    fake.press(8, reply, consent[0]["callback_data"])  # share the crop
    back = fake.wait_for(
        lambda: len(fake.calls("editMessageReplyMarkup")) >= 4 and fake.calls("editMessageReplyMarkup")
    )[3].params["reply_markup"]["inline_keyboard"]
    assert [b["text"] for row in back for b in row][:3] == ["1", "2", "3"]  # back to every face's number
    thanks = [a.params.get("text") for a in fake.calls("answerCallbackQuery")]
    assert "Thank you! Face 2 is rated." in thanks
    rows = rows_of(bot)
    with bot.service.repository.database.session() as session:
        [feedback] = session.scalars(select(Feedback)).all()
        shared = {c.prediction_id for c in session.scalars(select(Crop).where(Crop.shared.is_(True)))}
    assert feedback.prediction_id == rows[1].id and not feedback.is_correct
    assert feedback.corrected_label == next(n for n in replies.VERDICT if replies.VERDICT[n][1] == labels[0]["text"])
    assert shared == {rows[1].id}
    assert not fake.calls("editMessageText")  # the photo's caption stays as it was


def test_why_on_one_face_of_a_group_photo_explains_that_face(bot, fake, predictor, shared_data):
    data = (shared_data / "ilc3" / "scenes" / SCENES[0]).read_bytes()
    fake.send_photo(10, data)
    reply = fake.wait_for(lambda: fake.calls("sendPhoto", 10))[0]
    fake.press(10, reply, reply.params["reply_markup"]["inline_keyboard"][0][1]["callback_data"])  # face 2
    rate = fake.wait_for(lambda: fake.calls("editMessageReplyMarkup"))[0].params["reply_markup"]["inline_keyboard"]
    fake.press(10, reply, rate[0][2]["callback_data"])  # 2: Why?
    picture = fake.wait_for(lambda: len(fake.calls("sendPhoto", 10)) >= 2 and fake.calls("sendPhoto", 10))[1]
    assert picture.params["caption"].startswith("On face 2 I looked mostly ")
    # The user's photo (which the annotated copy replies to) judged again: face 2 of it.
    assert [r.params["file_id"] for r in fake.calls("download")] == ["file1", "file1"]
    face = predictor.predict_photo(data).faces[1]
    assert face.class_maps is not None
    assert picture.params["photo"] == explain(face.pixels, face.class_maps, face.label, face.crop_landmarks).picture


def test_stats_count_photos_and_faces(bot, fake, shared_data, known_photo):
    fake.send_photo(ADMIN_ID, (shared_data / "ilc3" / "scenes" / SCENES[0]).read_bytes())
    fake.wait_for(lambda: fake.calls("sendPhoto", ADMIN_ID))
    fake.send_photo(ADMIN_ID, encode(known_photo("with_mask")))
    assert verdict_of(fake.replies_to(ADMIN_ID)[0]) == "with_mask"
    faces = len(rows_of(bot))
    fake.send_text(ADMIN_ID, "/stats")
    table = fake.replies_to(ADMIN_ID, 2)[1].params["text"]
    assert f"Photos checked: 2, faces judged: {faces}" in table and faces > 2


def test_a_photo_of_faces_too_small_to_judge_says_so(bot, fake, known_photo):
    from tests.support.photos import tiny_faces

    fake.send_photo(9, encode(tiny_faces(known_photo, 2)))
    text = fake.replies_to(9)[0].params["text"]
    assert text.startswith("I can see 2 faces, but too small to judge.")
    bot.wait_idle()
    assert not rows_of(bot)


def test_pressing_a_group_photos_buttons_spends_no_photos(bot, fake, shared_data, known_photo):
    # The press's message is the bot's annotated photo: it must not count as the sender's upload.
    fake.send_photo(12, (shared_data / "ilc3" / "scenes" / SCENES[0]).read_bytes())
    reply = fake.wait_for(lambda: fake.calls("sendPhoto", 12))[0]
    face = reply.params["reply_markup"]["inline_keyboard"][0][1]["callback_data"]
    for _ in range(12):
        fake.press(12, reply, face)
    fake.wait_for(lambda: len(fake.calls("answerCallbackQuery")) >= 12, what="every press answered")
    for _ in range(9):
        fake.send_photo(12, encode(known_photo("without_mask")))
    answers = fake.replies_to(12, 9, timeout=60)
    assert [verdict_of(answer) for answer in answers] == ["without_mask"] * 9


def test_a_selfie_with_people_behind_gets_the_answer_about_its_sender(bot, fake, predictor):
    from bot.i18n import translator
    from tests.support.fake_telegram import replied_to
    from tests.support.photos import selfie_with_people_behind

    data = selfie_with_people_behind(behind=2)
    expected = predictor.predict_photo(data)
    assert expected.main_face and len(expected.faces) == 3
    fake.send_photo(75, data)
    reply = fake.replies_to(75)[0]
    # The one-face answer, about the sender's face, with one line about the others.
    assert reply.method == "sendMessage"
    text = reply.params["text"]
    assert text.startswith(replies.verdict(expected.faces[0], translator("en")).split("\n")[0])
    assert text.endswith("👥 I also see 2 people in the background.")
    keyboard = reply.params["reply_markup"]["inline_keyboard"]
    assert [button["text"] for button in keyboard[-1]] == ["👥 Check everyone"]
    # Every face judged is recorded, as for a group photo: drift and statistics do not change.
    assert [row.face_index for row in rows_of(bot)] == [1, 2, 3]

    fake.press(75, reply, keyboard[-1][0]["callback_data"])
    group = fake.wait_for(lambda: fake.calls("sendPhoto", 75))[0]
    assert group.params["caption"].startswith("<b>3 faces</b>: ")
    assert numbers_in(group.params["caption"]) == [1, 2, 3]
    assert replied_to(group.params) == replied_to(reply.params) is not None  # both answer the user's photo
    buttons = [b["text"] for row in group.params["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["1", "2", "3"]
    assert len(rows_of(bot)) == 3  # judged again, not recorded again
    # The button goes; Right / Wrong / Why? stay.
    edited = fake.wait_for(lambda: fake.calls("editMessageReplyMarkup", 75))[0].params["reply_markup"]
    assert [b["text"] for b in edited["inline_keyboard"][0]] == ["👍 Right", "👎 Wrong", "🔍 Why?"]
    assert len(edited["inline_keyboard"]) == 1

    # Face 2 of the group answer is rated as a face of a group photo.
    fake.press(75, group, group.params["reply_markup"]["inline_keyboard"][0][1]["callback_data"])
    fake.wait_for(lambda: len(fake.calls("editMessageReplyMarkup", 75)) >= 2)
    face_keyboard = fake.calls("editMessageReplyMarkup", 75)[1].params["reply_markup"]["inline_keyboard"]
    assert face_keyboard[0][0]["text"].startswith("2: ")
