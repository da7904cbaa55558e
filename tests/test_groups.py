"""Groups end to end: anonymous admins and channels as senders, and buttons bound to their chat."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from telegram.constants import ChatID

from bot import replies
from storage.tables import Crop, Feedback, PredictionRow
from tests.support.bot_harness import RunningBot, make_service, make_settings
from tests.support.photos import encode, face_like

SHARED = int(ChatID.ANONYMOUS_ADMIN)
"""The one account Telegram names as the sender of every anonymous admin's message, in every group."""
GROUP_1, GROUP_2 = -1001, -1002
ADMIN_1, ADMIN_2 = 71, 72


def as_group(fake, group: int) -> dict:
    """The fields of a message an anonymous admin of `group` sends: the shared account in `from`,
    the group itself as `sender_chat`."""
    return {"chat": fake.chat(group), "from": fake.user(SHARED), "sender_chat": fake.chat(group)}


def rows(bot) -> list[PredictionRow]:
    with bot.service.repository.database.session() as session:
        return list(session.scalars(select(PredictionRow).order_by(PredictionRow.id)))


def answers(fake) -> list[str]:
    return [r.params.get("text") for r in fake.calls("answerCallbackQuery")]


def test_anonymous_admins_of_two_groups_are_two_senders(fake, tmp_path, predictor, shipped_model_dir):
    settings = make_settings(fake, tmp_path, shipped_model_dir, rate_limit_per_minute=2)
    bot = RunningBot(fake, settings, make_service(settings, predictor)).start()
    fake.chat_admins = {GROUP_1: {ADMIN_1}, GROUP_2: {ADMIN_2}}
    try:
        for seed in range(3):
            fake.send_photo(SHARED, encode(face_like(640, 480, seed=seed)), **as_group(fake, GROUP_1))
        first = fake.replies_to(GROUP_1, 3)
        assert sum("faster than I can" in r.params["text"] for r in first) == 1
        # Group 1's photos do not count against group 2's limit.
        fake.send_photo(SHARED, encode(face_like(640, 480, seed=9)), **as_group(fake, GROUP_2))
        assert "%" in fake.replies_to(GROUP_2)[0].params["text"].splitlines()[0]
        hashes = [row.user_hash for row in rows(bot)]
        assert len(hashes) == 3 and hashes[0] == hashes[1] != hashes[2]
        assert bot.service.pseudonymize(SHARED) not in hashes

        # /language in group 2 pressed by the shared account (nobody) changes nobody's language.
        fake.send_text(SHARED, "/language", **as_group(fake, GROUP_2))
        prompt = fake.replies_to(GROUP_2, 2)[1]
        fake.press(SHARED, prompt, prompt.params["reply_markup"]["inline_keyboard"][0][1]["callback_data"])
        fake.wait_for(lambda: replies.BUTTON_EXPIRED in answers(fake), what="the refusal")
        fake.send_text(SHARED, "/help", **as_group(fake, GROUP_1))
        assert fake.replies_to(GROUP_1, 4)[3].params["text"] == replies.START

        # Group 1's crop: not shared by the shared account, nor by group 2's admin; group 1's admin may.
        verdict = first[0] if "%" in first[0].params["text"] else first[1]
        right = verdict.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        fake.press(SHARED, verdict, right)
        fake.press(ADMIN_2, verdict, right)
        fake.wait_for(lambda: len(answers(fake)) >= 3, what="two refusals")
        assert sorted(answers(fake)[1:3]) == sorted([replies.BUTTON_EXPIRED, replies.NOT_YOUR_PHOTO])
        fake.press(ADMIN_1, verdict, right)
        consent = fake.wait_for(lambda: fake.calls("editMessageReplyMarkup"))[0].params["reply_markup"]
        fake.press(ADMIN_1, verdict, consent["inline_keyboard"][0][0]["callback_data"])
        fake.wait_for(lambda: fake.calls("editMessageText"), what="the thanks")

        # /forget in group 2: not confirmed by the shared account, nor by group 1's admin; group
        # 2's admin deletes group 2's answer only.
        fake.send_text(SHARED, "/forget", **as_group(fake, GROUP_2))
        prompt = fake.replies_to(GROUP_2, 3)[2]
        yes = prompt.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        fake.press(SHARED, prompt, yes)
        fake.press(ADMIN_1, prompt, yes)
        fake.wait_for(lambda: len(answers(fake)) >= 7, what="two more refusals")
        assert sorted(answers(fake)[5:7]) == sorted([replies.BUTTON_EXPIRED, replies.NOT_YOUR_FORGET])
        fake.press(ADMIN_2, prompt, yes)
        done = fake.wait_for(lambda: len(fake.calls("editMessageText")) >= 3 and fake.calls("editMessageText"))[2]
        assert done.params["text"] == "Done. I deleted 1 answer."
        assert [row.user_hash for row in rows(bot)] == hashes[:2]
        with bot.service.repository.database.session() as session:
            assert len(session.scalars(select(Feedback)).all()) == 1
            # Group 1's shared crop and its other one, still waiting; group 2's is gone.
            assert sorted(crop.shared for crop in session.scalars(select(Crop))) == [False, True]
    finally:
        bot.stop()


def feedback_rows(bot) -> int:
    with bot.service.repository.database.session() as session:
        return len(session.scalars(select(Feedback)).all())


def share(reply) -> str:
    """The "right, share the crop" press of a verdict, made from its "Right" button."""
    right = reply.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    return right.removesuffix("|ok") + "|share|right|1"


def test_a_button_works_only_in_the_chat_it_was_shown_in_and_never_from_an_inline_message(bot, fake):
    member = 47  # a member of both groups
    fake.send_photo(member, encode(face_like(640, 480)), chat=fake.chat(GROUP_1))
    verdict = fake.replies_to(GROUP_1)[0]
    fake.send_text(member, "/help", chat=fake.chat(GROUP_2))
    elsewhere = fake.replies_to(GROUP_2)[0]
    fake.press(member, elsewhere, share(verdict))  # group 1's button under a message in group 2
    fake.wait_for(lambda: answers(fake), what="the refusal")
    fake.push(
        {
            "callback_query": {
                "id": "inline-press",
                "from": fake.user(member),
                "chat_instance": "ci",
                "inline_message_id": "AgAAAInline",
                "data": share(verdict),
            }
        }
    )
    fake.wait_for(lambda: len(answers(fake)) >= 2, what="the inline press's answer")
    assert answers(fake) == [replies.BUTTON_EXPIRED] * 2
    bot.wait_idle()
    assert feedback_rows(bot) == 0 and not fake.calls("editMessageText") and not fake.calls("editMessageReplyMarkup")
    fake.press(member, verdict, share(verdict))  # where it was shown, it works
    fake.wait_for(lambda: fake.calls("editMessageText"), what="the thanks")
    assert feedback_rows(bot) == 1


def test_buttons_carry_neither_row_ids_nor_any_part_of_the_stored_pseudonym(bot, fake, predictor, tmp_path):
    fake.send_photo(46, encode(face_like(640, 480)))
    reply = fake.replies_to(46)[0]
    fake.send_text(46, "/forget")
    prompt = fake.replies_to(46, 2)[1]
    [row] = rows(bot)
    data = [b["callback_data"] for b in reply.params["reply_markup"]["inline_keyboard"][0]]
    token = data[0].split("|")[1]
    assert all(d.split("|")[1] == token for d in data) and str(row.id) not in token
    requester = prompt.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"].split("|")[2]
    assert requester not in row.user_hash
    # Without the secret neither can be made from what the database holds.
    other = make_service(replace(bot.settings, secret="another-secret", data_dir=tmp_path / "other"), predictor)
    assert other.button_tags.prediction_token(row.id, 46) != token and other.button_tags.requester(46) != requester
    other.close()


def forget_prompt(fake, chat: int, count: int):
    """The /forget prompt the bot sent `chat`, its `count`-th message there, and its Yes."""
    prompt = fake.replies_to(chat, count)[count - 1]
    return prompt, prompt.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]


def test_an_admin_is_told_when_telegram_cannot_say_they_are_one(bot, fake):
    fake.chat_admins = {GROUP_1: {ADMIN_1}}
    fake.send_photo(SHARED, encode(face_like(640, 480)), **as_group(fake, GROUP_1))
    fake.replies_to(GROUP_1)
    fake.send_text(SHARED, "/forget", **as_group(fake, GROUP_1))
    prompt, yes = forget_prompt(fake, GROUP_1, 2)
    bad_gateway = (502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})
    fake.failures["getChatMember"] = [(400, {"ok": False, "error_code": 400, "description": "Bad Request: x"})]
    fake.press(ADMIN_1, prompt, yes)
    fake.wait_for(lambda: answers(fake), what="the first answer")
    fake.failures["getChatMember"] = [bad_gateway] * 4
    fake.press(ADMIN_1, prompt, yes)
    fake.wait_for(lambda: len(answers(fake)) >= 2, timeout=60, what="the second answer")
    assert answers(fake) == [replies.ADMIN_CHECK_FAILED] * 2 and len(rows(bot)) == 1
    fake.press(ADMIN_1, prompt, yes)  # Telegram answers again: the admin's "Yes" works
    done = fake.wait_for(lambda: len(fake.calls("editMessageText")) >= 2 and fake.calls("editMessageText"))[1]
    assert done.params["text"] == "Done. I deleted 1 answer." and rows(bot) == []


def test_a_channels_forget_says_it_cannot_be_confirmed(bot, fake):
    channel = {"id": -1009, "type": "channel", "title": "News"}
    fake.send_text(int(ChatID.FAKE_CHANNEL), "/forget", chat=fake.chat(GROUP_1), sender_chat=channel)
    [reply] = fake.replies_to(GROUP_1)
    assert reply.params["text"] == replies.FORGET_CHANNEL.format(days=bot.settings.retention_days)
    assert not reply.params.get("reply_markup")


def test_forget_works_only_in_the_chat_it_was_asked_in(bot, fake):
    member = 48  # a member of both groups
    fake.send_photo(member, encode(face_like(640, 480)), chat=fake.chat(GROUP_1))
    fake.replies_to(GROUP_1)
    fake.send_text(member, "/forget", chat=fake.chat(GROUP_1))
    prompt, yes = forget_prompt(fake, GROUP_1, 2)
    fake.send_text(member, "/help", chat=fake.chat(GROUP_2))
    elsewhere = fake.replies_to(GROUP_2)[0]
    fake.press(member, elsewhere, yes)  # their own "Yes", under a message in another group
    fake.wait_for(lambda: answers(fake), what="the refusal")
    bot.wait_idle()
    assert answers(fake) == [replies.BUTTON_EXPIRED] and len(rows(bot)) == 1 and not fake.calls("editMessageText")
    fake.press(member, prompt, yes)  # where it was shown, it works
    fake.wait_for(lambda: len(fake.calls("editMessageText")) >= 2, what="Done")
    assert rows(bot) == []


def test_after_forget_the_old_buttons_say_the_answer_was_deleted(bot, fake):
    fake.send_photo(49, encode(face_like(640, 480)))
    verdict = fake.replies_to(49)[0]
    fake.send_text(49, "/forget")
    prompt, yes = forget_prompt(fake, 49, 2)
    fake.press(49, prompt, yes)
    fake.wait_for(lambda: len(fake.calls("editMessageText")) >= 2, what="Done")
    fake.press(49, verdict, verdict.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
    fake.wait_for(lambda: len(answers(fake)) >= 2, what="the old button's answer")
    assert answers(fake)[1] == replies.ANSWER_DELETED
    fake.send_photo(50, encode(face_like(640, 480, seed=1)))  # someone else's button is still not theirs
    other = fake.replies_to(50)[0]
    fake.press(49, other, other.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
    fake.wait_for(lambda: len(answers(fake)) >= 3, what="the refusal")
    assert answers(fake)[2] == replies.NOT_YOUR_PHOTO
