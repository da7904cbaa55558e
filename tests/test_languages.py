"""Spanish, Portuguese and English end to end: the client's language, /language, and a restart."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot import replies
from bot.i18n import LANGUAGES, translator
from storage.tables import UserSettings
from tests.support.bot_harness import ADMIN_ID, RunningBot, make_service, make_settings
from tests.support.photos import encode

ENGLISH = translator("en")
CLIENTS = {
    "es": {
        "codes": ("es-CO", "es-419"),
        "verdict": "❌ Sin tapabocas (",
        "sure": "de seguridad)",
        "buttons": ["👍 Correcto", "👎 Incorrecto", "🔍 ¿Por qué?"],
        "hello": "¡Hola!",
        "table": "Fotos revisadas: 4, caras juzgadas: 4",
        "no_mask": "Sin tapabocas",
        "caption": "Últimos 7 días",
        "chosen": "Listo: te responderé en español.",
    },
    "pt": {
        "codes": ("pt-BR", "pt-PT"),
        "verdict": "❌ Sem máscara (",
        "sure": "de certeza)",
        "buttons": ["👍 Certo", "👎 Errado", "🔍 Por quê?"],
        "hello": "Oi!",
        "table": "Fotos conferidas: 4, rostos analisados: 4",
        "no_mask": "Sem máscara",
        "caption": "Últimos 7 dias",
        "chosen": "Pronto: vou responder em português.",
    },
}
"""What a client of each translated language sees: its Telegram codes (a user's, the admin's), then texts."""


@pytest.mark.parametrize("language", sorted(CLIENTS))
def test_a_client_gets_its_language_and_every_other_client_english(bot, fake, known_photo, language):
    expected, t = CLIENTS[language], translator(language)
    user_code, admin_code = expected["codes"]
    photo = encode(known_photo("without_mask"))
    for user, code in ((21, user_code), (22, "en-GB"), (23, "de-DE"), (ADMIN_ID, admin_code)):
        fake.languages[user] = code
        fake.send_photo(user, photo)
        fake.replies_to(user)
        fake.send_text(user, "/help")
    translated, english = fake.replies_to(21, 2), fake.replies_to(22, 2)
    assert (
        translated[0].params["text"].startswith(expected["verdict"])
        and expected["sure"] in translated[0].params["text"]
    )
    assert [b["text"] for b in translated[0].params["reply_markup"]["inline_keyboard"][0]] == expected["buttons"]
    assert translated[1].params["text"] == t(replies.START) and translated[1].params["text"].startswith(
        expected["hello"]
    )
    assert english[0].params["text"].startswith("❌ No mask (") and english[1].params["text"] == replies.START
    assert [r.params["text"] for r in fake.replies_to(23, 2)] == [r.params["text"] for r in english]
    fake.send_text(ADMIN_ID, "/stats")
    table = fake.replies_to(ADMIN_ID, 3)[2].params["text"]
    assert expected["table"] in table and expected["no_mask"] in table
    chart = fake.wait_for(lambda: fake.calls("sendPhoto", ADMIN_ID))[0]
    assert chart.params["caption"] == expected["caption"]


@pytest.mark.parametrize("language", sorted(CLIENTS))
def test_language_choice_persists_across_a_restart_and_goes_with_forget(
    fake, tmp_path, predictor, shipped_model_dir, language
):
    t = translator(language)
    settings = make_settings(fake, tmp_path, shipped_model_dir)
    fake.languages[31] = "en-US"
    running = RunningBot(fake, settings, make_service(settings, predictor)).start()
    try:
        fake.send_text(31, "/language")
        prompt = fake.replies_to(31)[0]
        buttons = prompt.params["reply_markup"]["inline_keyboard"][0]
        assert [b["text"] for b in buttons] == ["English", "Español", "Português"]
        fake.press(31, prompt, buttons[list(LANGUAGES).index(language)]["callback_data"])
        done = fake.wait_for(lambda: fake.calls("editMessageText"))[0]
        assert done.params["text"] == CLIENTS[language]["chosen"]
    finally:
        running.stop()
    restarted = RunningBot(fake, settings, make_service(settings, predictor)).start()
    try:
        fake.send_text(31, "/help")
        assert fake.replies_to(31, 2)[1].params["text"] == t(replies.START)
        with restarted.service.repository.database.session() as session:
            [row] = session.scalars(select(UserSettings)).all()
        assert row.language == language and row.user_hash != "31" and len(row.user_hash) == 64
        fake.send_text(31, "/forget")
        confirm = fake.replies_to(31, 3)[2]
        assert confirm.params["text"] == t(replies.FORGET_CONFIRM)
        fake.press(31, confirm, confirm.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
        fake.wait_for(lambda: len(fake.calls("editMessageText")) >= 3)
        assert fake.calls("editMessageText")[1].params["text"] == t(replies.DELETING)
        # The choice went with everything else: back to the client's own language.
        assert fake.calls("editMessageText")[2].params["text"] == ENGLISH(replies.NOTHING_STORED)
        with restarted.service.repository.database.session() as session:
            assert session.scalars(select(UserSettings)).all() == []
        fake.send_text(31, "/help")
        assert fake.replies_to(31, 4)[3].params["text"] == replies.START
    finally:
        restarted.stop()
