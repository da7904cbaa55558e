"""Every text the bot sends, in one place, so wording stays consistent, reviewable and translatable.

Constants are English message ids marked with `N_` for Babel's extraction; they are translated
where they are sent, with the reader's `bot.i18n.Translator` (`t(...)`). Functions take that
translator and return the whole text: sentences are never glued from translated fragments, and
plural forms come from gettext (`t.ngettext`). The command menus' descriptions are with the
commands themselves (`bot.handlers.commands.COMMANDS`).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from html import escape

from bot.i18n import Translator
from model import CLASS_NAMES
from model.messages import N_
from model.predictor import PhotoPrediction, Prediction
from storage.cameras import CameraTally
from storage.repository import Deleted
from storage.stats import DaySummary, Stats

VERDICT = {
    "with_mask": ("✅", N_("Mask on")),
    "without_mask": ("❌", N_("No mask")),
    "mask_weared_incorrect": ("⚠️", N_("Mask worn incorrectly")),
}
NOT_SURE = N_("Not sure")
SYMBOL = {"with_mask": "✓", "without_mask": "✗", "mask_weared_incorrect": "!", "unsure": "?"}
"""Drawn beside each face's number on a group photo (bot.drawing) and repeated in its caption:
the verdicts are not told by colour alone."""
CAPTION_LIMIT = 1024
"""Telegram's limit on a photo's caption."""
ADVICE = {
    "with_mask": N_("Well done. Keep it snug over your nose and under your chin, and change it when it gets damp."),
    "without_mask": N_("Where a mask is needed, cover your nose and mouth and press the nose clip to fit."),
    "mask_weared_incorrect": N_(
        "Pull the mask up over your nose and down under your chin, then press the nose clip so it fits closely."
    ),
}
UNSURE_ADVICE = N_("Send a clear, well-lit photo of your face from the front, and I'll take another look.")
LOOKS_LIKE = {
    "with_mask": N_("It looks most like a mask worn properly, but I can't tell reliably."),
    "without_mask": N_("It looks most like no mask, but I can't tell reliably."),
    "mask_weared_incorrect": N_(
        "It looks most like a mask that is not covering nose and mouth, but I can't tell reliably."
    ),
}
START = N_(
    "Hi! I check whether a face mask is worn correctly.\n\n"
    "Send me a photo of your face (a selfie works best) and I'll answer <b>Mask on</b>, <b>No mask</b> or "
    "<b>Mask worn incorrectly</b>, with tips for a better photo when I need them. In a group photo I look at "
    "every face. A video note, a short video or a GIF works too: I judge its best frame.\n\n"
    "For a good photo:\n"
    "• face the camera, your face filling about a third of the picture\n"
    "• stand in even light, not with a window behind you\n"
    "• hold still so the photo is sharp\n\n"
    "Tap <b>Right</b> or <b>Wrong</b> under my answers to help me learn. "
    "/privacy tells what I keep; /forget deletes it; /language changes my language."
)
PRIVACY = N_(
    "<b>What I keep</b>\n"
    "• For each face I judge: my answer, its confidence, the model version, simple photo facts (size, "
    "brightness, sharpness, the face's size) and the time.\n"
    "• Who sent it, only as a keyed pseudonym: not your Telegram id, name or username. The language you "
    "chose with /language is kept under that pseudonym too.\n"
    "• Your photos, video notes, short videos and GIFs are <b>not</b> stored. A small 128x128 crop of the "
    "face (without any photo metadata) is kept to improve the model only if you rate an answer "
    "(<i>Right</i> or <i>Wrong</i>) and then agree. Changed your mind? /forget deletes it with everything "
    "else. <i>Why?</i> downloads your photo from Telegram again when you press it, and keeps nothing of it.\n\n"
    "<b>For how long</b>\nEverything is deleted after {days} days.\n\n"
    "<b>Delete it now</b>\nSend /forget to delete everything about you at once."
)
RIGHT, WRONG = N_("👍 Right"), N_("👎 Wrong")
WHY = N_("🔍 Why?")
FACE_BUTTON = N_("{number}: {answer}")
"""A Right, Wrong or Why? button for one face of a group photo."""
ALL_FACES = N_("◀ All faces")
CHECK_EVERYONE = N_("👥 Check everyone")
SHARE_YES, SHARE_NO = N_("Yes, share the face crop"), N_("No, don't")
CONSENT_QUESTION = N_("May I keep the 128x128 face crop to improve the model?")
WHICH_LABEL = N_("Which answer is right?")
THANKS = N_("Thank you!")
THANKS_LINE = N_("Thanks for your feedback!")
FACE_THANKS = N_("Thank you! Face {number} is rated.")
FACE_CHOSEN = N_("Face {number}: was I right?")
NOT_YOUR_PHOTO = N_("Only the person who sent this photo can rate the answer.")
BUTTON_EXPIRED = N_("This button no longer works. Send the photo again to rate a new answer.")
ALREADY_RATED = N_("You already rated this answer. Thank you!")
CONSENT_WITHDRAWN = N_("Done: the face crop you shared is deleted. Your rating stays.")
NOT_YOUR_FORGET = N_("Only the person who sent /forget can answer this. Send /forget yourself to delete your data.")
FORGET_CONFIRM = N_("This deletes every answer, feedback and shared photo crop I keep about you. Delete now?")
FORGET_YES, FORGET_CANCEL = N_("Yes, delete everything"), N_("Cancel")
NOTHING_DELETED = N_("Nothing was deleted.")
ADMIN_CHECK_FAILED = N_("I couldn't check that you are an admin here; try again.")
FORGET_CHANNEL = N_(
    "A channel's /forget can't be confirmed: Telegram doesn't tell me who posts as a channel. "
    "What I keep about this channel is deleted after {days} days."
)
ANSWER_DELETED = N_("This answer was deleted (by /forget, or after its time), so its buttons no longer work.")
DELETING = N_("Deleting…")
FORGOTTEN_UNCHECKED = N_(
    "I didn't check this one: you asked me to delete your data while it was waiting. Send it again to have it checked."
)
NOTHING_STORED = N_("Done. I had nothing stored about you.")
LANGUAGE_CHOICE = N_("Which language should I answer in?")
LANGUAGE_SET = N_("Done: I'll answer in English.")
"""Said in the language just chosen: each catalog says its own language's name here."""
DRIFT_CHART_CAPTION = N_("Faces judged per day; triangles mark drift")
NOT_AN_IMAGE_DOCUMENT = N_(
    "I can only check photos and videos. Please send a photo of your face (JPEG or PNG), not a PDF."
)
NOT_AN_IMAGE_FILE = N_(
    "I can only check photos and videos. Please send a photo of your face (JPEG or PNG), not this kind of file."
)
TOO_LARGE = N_("This file is {size} MB; I can check files up to {limit} MB. Please send it as a photo instead.")
CLIP_IN_FLIGHT = N_("I'm still checking the last video you sent. Wait for its answer, then send this one again.")
TOO_LARGE_UNKNOWN = N_("This file is larger than the {limit} MB I can check. Please send it as a photo instead.")
RATE_LIMITED_MESSAGES = N_("You're sending messages faster than I can answer. Please wait {seconds} s and try again.")
RATE_LIMITED_BUTTONS = N_("You're pressing buttons faster than I can answer. Please wait {seconds} s and try again.")
GROUP_FLOODED = N_(
    "This group is sending me more than I can answer, so I'm skipping messages for now. "
    "I'll answer again in {seconds} s."
)
RATE_LIMITED = N_(
    "You're sending photos faster than I can look at them carefully. Please wait {seconds} s and try again."
)
ERROR = N_("Sorry, something went wrong on my side while checking that. Please try again in a moment.")
UNKNOWN_COMMAND = N_("I don't know that command. Send /help to see what I can do.")
OTHER_CONTENT = {
    "text": N_("Send me a photo of your face and I'll tell you whether your mask is on correctly. /help has tips."),
    "sticker": N_("Nice sticker! I can only check real photos, though: send me a selfie."),
    "voice": N_("I can't listen, sorry. Please send a photo of your face."),
    "audio": N_("I can't listen, sorry. Please send a photo of your face."),
    "other": N_("I can only check photos and videos. Please send a photo of your face."),
}
STATS_USAGE = N_("Usage: /stats [days], with days from 1 to {most}.")
NO_SUMMARIES = N_("No daily summaries yet: they are computed each day at the summary time.")
DRIFT_LEVELS = {"none": N_("none"), "watch": N_("watch"), "drift": N_("drift")}


def verdict_key(prediction: Prediction) -> str:
    """The label, or "unsure": how a face is counted, coloured and marked."""
    return "unsure" if prediction.unsure else prediction.label


def verdict(prediction: Prediction, t: Translator, background: int = 0) -> str:
    """First line: exactly one verdict phrase and the confidence. A sure verdict's advice about
    the mask follows it, and the framing tips, for a better photo next time, come after; when not
    sure, the tips come before the advice, which asks for that better photo. Last, about a
    photo's main face, how many other people are in it (`background`)."""
    percent = t.percent(prediction.confidence)
    tips = [f"• {escape(t.message(tip), quote=False)}" for tip in prediction.framing.tips]
    if prediction.unsure:
        head = [
            t("🤔 {verdict} ({percent})").format(verdict=t(NOT_SURE), percent=percent),
            t(LOOKS_LIKE[prediction.label]),
        ]
        blocks = [head, tips, [t(UNSURE_ADVICE)]]
    else:
        emoji, phrase = VERDICT[prediction.label]
        head = [t("{emoji} {verdict} ({percent} sure)").format(emoji=emoji, verdict=t(phrase), percent=percent)]
        blocks = [head, [t(ADVICE[prediction.label])], tips]
    if background:
        people = t.ngettext(
            "I also see {count} person in the background.", "I also see {count} people in the background.", background
        )
        blocks.append(["👥 " + people.format(count=background)])
    return "\n\n".join("\n".join(block) for block in blocks if block)


def no_verdict(error_text: str, tips: list[str]) -> str:
    """Why a photo got no verdict, then the framing tips: all already translated."""
    return "\n".join([escape(error_text, quote=False), *(f"• {escape(tip, quote=False)}" for tip in tips)])


def group_caption(photo: PhotoPrediction, t: Translator, can_rate: bool = True) -> str:
    """The sum-up first ("5 faces: 3 mask on, 1 no mask, 1 not sure"), then every numbered
    face: the ones with a mask on together, each other one on its own line."""
    keys = [verdict_key(p) for p in photo.faces]
    counts = Counter(keys)
    parts = [
        t.ngettext("{count} mask on", "{count} mask on", counts["with_mask"]),
        t.ngettext("{count} no mask", "{count} no mask", counts["without_mask"]),
        t.ngettext("{count} mask worn incorrectly", "{count} masks worn incorrectly", counts["mask_weared_incorrect"]),
        t.ngettext("{count} not sure", "{count} not sure", counts["unsure"]),
    ]
    shown = [
        part.format(count=count)
        for part, count in zip(parts, [counts[k] for k in (*CLASS_NAMES, "unsure")], strict=True)
        if count
    ]
    head = [
        t.ngettext("<b>{count} face</b>: {parts}", "<b>{count} faces</b>: {parts}", len(keys)).format(
            count=len(keys), parts=", ".join(shown)
        )
    ]
    masked = [str(number) for number, key in enumerate(keys, start=1) if key == "with_mask"]
    if masked:
        head.append(f"{SYMBOL['with_mask']} {t(VERDICT['with_mask'][1])}: {', '.join(masked)}")
    faces = []
    for number, (prediction, key) in enumerate(zip(photo.faces, keys, strict=True), start=1):
        if key == "unsure":
            faces.append(f"{number} {SYMBOL[key]} {t(LOOKS_LIKE_SHORT[prediction.label])}")
        elif key != "with_mask":
            faces.append(
                f"{number} {SYMBOL[key]} "
                + t("{verdict} ({percent} sure)").format(
                    verdict=t(VERDICT[key][1]), percent=t.percent(prediction.confidence)
                )
            )
    tail = []
    if photo.too_small:
        count = len(photo.too_small)
        tail.append(
            t.ngettext(
                "{count} more too small to judge (grey box)", "{count} more too small to judge (grey boxes)", count
            ).format(count=count)
        )
    if photo.not_checked:
        tail.append(
            t.ngettext(
                "{count} more not checked: I look at the {largest} largest faces",
                "{count} more not checked: I look at the {largest} largest faces",
                photo.not_checked,
            ).format(count=photo.not_checked, largest=len(keys))
        )
    if can_rate:  # no buttons when the database could not record the faces
        tail.append(t("<i>Tap a face's number below to tell me whether I got it right.</i>"))
    # Twenty faces' lines fit; should they not, the last ones give way to a pointer to the photo.
    while len("\n".join(head + faces + tail)) > CAPTION_LIMIT and faces:
        faces = [*faces[:-2], t("… the other faces' verdicts are on the photo")]
    return "\n".join(head + faces + tail)


LOOKS_LIKE_SHORT = {
    "with_mask": N_("Not sure: looks most like a mask worn properly"),
    "without_mask": N_("Not sure: looks most like no mask"),
    "mask_weared_incorrect": N_("Not sure: looks most like a mask that is not covering nose and mouth"),
}


FACE_CONSENT_QUESTION = N_("May I keep face {number}'s 128x128 crop to improve the model? Only if that person agrees.")


def consent_question(number: int | None, t: Translator) -> str:
    """Whether a crop may be kept; on a group photo the face may be someone else's, so it asks
    for their agreement."""
    return t(CONSENT_QUESTION) if number is None else t(FACE_CONSENT_QUESTION).format(number=number)


def face_button(number: int, answer: str, t: Translator) -> str:
    return t(FACE_BUTTON).format(number=number, answer=t(answer))


WHY_SENTENCE = {
    "with_mask": {
        "nose_and_mouth": N_("I looked mostly at your nose and mouth: the mask covers both."),
        "nose": N_("I looked mostly at your nose: the mask covers it."),
        "mouth": N_("I looked mostly at your mouth: the mask covers it."),
        "chin": N_("I looked mostly at your chin: the mask reaches down under it."),
    },
    "without_mask": {
        "nose_and_mouth": N_("I looked mostly at your nose and mouth: both are uncovered."),
        "nose": N_("I looked mostly at your nose: it is uncovered."),
        "mouth": N_("I looked mostly at your mouth: it is uncovered."),
        "chin": N_("I looked mostly at your chin: there is no mask on it."),
    },
    "mask_weared_incorrect": {
        "nose_and_mouth": N_("I looked mostly at your nose and mouth: the mask does not cover both."),
        "nose": N_("I looked mostly at your nose: the mask leaves it uncovered."),
        "mouth": N_("I looked mostly at your mouth: the mask sits below your nose."),
        "chin": N_("I looked mostly at your chin: the mask sits below your nose."),
    },
}
"""The "Why?" picture's caption, by verdict and the region its heat falls on (model.explain)."""
WHY_ELSEWHERE = {
    "eyes": N_("I looked mostly at your eyes and forehead, not where a mask sits, so take this answer with care."),
    "outside": N_("I looked mostly around your face rather than at it, so take this answer with care."),
}
"""Regions that say nothing about a mask, whatever the verdict."""
FACE_WHY_SENTENCE = {
    "with_mask": {
        "nose_and_mouth": N_("On face {number} I looked mostly at the nose and mouth: the mask covers both."),
        "nose": N_("On face {number} I looked mostly at the nose: the mask covers it."),
        "mouth": N_("On face {number} I looked mostly at the mouth: the mask covers it."),
        "chin": N_("On face {number} I looked mostly at the chin: the mask reaches down under it."),
    },
    "without_mask": {
        "nose_and_mouth": N_("On face {number} I looked mostly at the nose and mouth: both are uncovered."),
        "nose": N_("On face {number} I looked mostly at the nose: it is uncovered."),
        "mouth": N_("On face {number} I looked mostly at the mouth: it is uncovered."),
        "chin": N_("On face {number} I looked mostly at the chin: there is no mask on it."),
    },
    "mask_weared_incorrect": {
        "nose_and_mouth": N_("On face {number} I looked mostly at the nose and mouth: the mask does not cover both."),
        "nose": N_("On face {number} I looked mostly at the nose: the mask leaves it uncovered."),
        "mouth": N_("On face {number} I looked mostly at the mouth: the mask sits below the nose."),
        "chin": N_("On face {number} I looked mostly at the chin: the mask sits below the nose."),
    },
}
"""The same for one face of a group photo, which may be someone else's than the sender's."""
FACE_WHY_ELSEWHERE = {
    "eyes": N_(
        "On face {number} I looked mostly at the eyes and forehead, not where a mask sits, "
        "so take this answer with care."
    ),
    "outside": N_("On face {number} I looked mostly around the face rather than at it, so take this answer with care."),
}
EVERYONE_UNAVAILABLE = N_(
    "I can't find these faces again: the photo may have been deleted. Send it again to check everyone."
)
WHY_UNAVAILABLE = N_("I can't find this face again: the photo may have been deleted. Send the photo again to ask why.")
WHY_NEWER_MODEL = N_("My model has changed since this answer: the map shows where today's model looks.")


def why(label: str, region: str, number: int | None, t: Translator) -> str:
    """The "Why?" sentence for a verdict whose heat falls on `region`; `number` for a group photo's face."""
    if number is None:
        return t(WHY_ELSEWHERE[region] if region in WHY_ELSEWHERE else WHY_SENTENCE[label][region])
    text = FACE_WHY_ELSEWHERE[region] if region in FACE_WHY_ELSEWHERE else FACE_WHY_SENTENCE[label][region]
    return t(text).format(number=number)


def privacy(retention_days: int, t: Translator) -> str:
    return t(PRIVACY).format(days=retention_days)


DELETED = (
    N_("Done. I deleted {first}."),
    N_("Done. I deleted {first} and {second}."),
    N_("Done. I deleted {first}, {second} and {third}."),
)
"""What /forget deleted, by how many kinds of thing it found: a kind with none is not named
("0 feedback notes")."""


def forgotten(result: Deleted, t: Translator) -> str:
    counts = [
        (t.ngettext("{count} answer", "{count} answers", result.predictions), result.predictions),
        (t.ngettext("{count} feedback note", "{count} feedback notes", result.feedback), result.feedback),
        (t.ngettext("{count} shared photo crop", "{count} shared photo crops", result.crops), result.crops),
    ]
    named = [text.format(count=count) for text, count in counts if count]
    if not named:
        return t(NOTHING_STORED)
    return t(DELETED[len(named) - 1]).format(**dict(zip(("first", "second", "third"), named, strict=False)))


def stats_table(stats: Stats, model_version: str, t: Translator) -> str:
    lines = [
        t("<b>Stats {start} to {end}</b> (model {model})").format(
            start=t.date(stats.start), end=t.date(stats.end), model=escape(model_version)
        ),
        t("Photos checked: {photos}, faces judged: {faces}").format(
            photos=t.number(stats.photos), faces=t.number(stats.count)
        ),
    ]
    for name in CLASS_NAMES:
        share = t.percent(stats.per_class[name] / stats.count) if stats.count else "-"
        lines.append(f"<code>{t(VERDICT[name][1]):<22}{t.number(stats.per_class[name]):>6} {share:>5}</code>")
    unsure = t.percent(stats.unsure_share) if stats.unsure_share is not None else "-"
    disagreement = t.percent(stats.disagreement_rate) if stats.disagreement_rate is not None else "-"
    lines.append(t("Not sure: {share}").format(share=unsure))
    lines.append(
        t("Feedback: {count}, marked wrong: {share}").format(count=t.number(stats.feedback), share=disagreement)
    )
    lines.append(t("Drift level (worst day): {level}").format(level=t(DRIFT_LEVELS[stats.worst_drift_level])))
    if stats.cameras:
        lines.append(t("<b>Cameras</b> (people counted, not in the figures above)"))
        lines.extend(camera_line(tally, t) for tally in stats.cameras)
    return "\n".join(lines)


def camera_line(tally: CameraTally, t: Translator) -> str:
    """One camera's people, by verdict: a line of /stats and of the daily summary."""
    shares = {
        name: t.percent(tally.per_label.get(name, 0) / tally.people) if tally.people else "-" for name in CLASS_NAMES
    }
    return t.ngettext(
        "📷 {camera}: {count} person: {with_mask} mask on, {without_mask} no mask, {incorrect} worn incorrectly",
        "📷 {camera}: {count} people: {with_mask} mask on, {without_mask} no mask, {incorrect} worn incorrectly",
        tally.people,
    ).format(
        camera=escape(tally.camera),
        count=t.number(tally.people),
        with_mask=shares["with_mask"],
        without_mask=shares["without_mask"],
        incorrect=shares["mask_weared_incorrect"],
    )


def cameras_day(day: date, tallies: list[CameraTally], t: Translator) -> str:
    """The daily summary's line per camera, for the admins."""
    return "\n".join(
        [t("<b>Cameras on {day}</b>").format(day=t.date(day)), *(camera_line(tally, t) for tally in tallies)]
    )


CAMERA_ALERT = N_(
    "⚠️ Camera <b>{camera}</b>: in the last {minutes} minutes, {unmasked} of {count} people ({share}) "
    "wore no mask or wore it incorrectly ({without} no mask, {incorrect} incorrectly). "
    "I won't repeat this alert for this camera before {until}."
)


def camera_alert(camera: str, minutes: int, tally: CameraTally, until: datetime, t: Translator) -> str:
    without = tally.per_label.get("without_mask", 0)
    incorrect = tally.per_label.get("mask_weared_incorrect", 0)
    return t(CAMERA_ALERT).format(
        camera=escape(camera),
        minutes=t.number(minutes),
        unmasked=t.number(without + incorrect),
        count=t.number(tally.people),
        share=t.percent((without + incorrect) / tally.people),
        without=t.number(without),
        incorrect=t.number(incorrect),
        until=f"{until:%H:%M} UTC",
    )


def drift_report(rows: list[DaySummary], t: Translator) -> str:
    if not rows:
        return t(NO_SUMMARIES)
    lines = [t("<b>Drift, most recent days</b>")]
    for row in rows:
        psi = t.number(row.psi, 3) if row.psi is not None else "-"
        lines.append(
            t.ngettext(
                "{day} model {model}: {count} face, PSI {psi}, level <b>{level}</b>",
                "{day} model {model}: {count} faces, PSI {psi}, level <b>{level}</b>",
                row.count,
            ).format(
                day=t.date(row.day),
                model=escape(row.model_version),
                count=t.number(row.count),
                psi=psi,
                level=t(DRIFT_LEVELS[row.drift_level]),
            )
        )
    return "\n".join(lines)


DRIFT_ALERT = {
    "trailing": N_(
        "⚠️ Drift <b>{level}</b> on {day} (model {model}): {count} faces, PSI {psi}. "
        "The class mix differs from the 28 days before; see /stats."
    ),
    "model": N_(
        "⚠️ Drift <b>{level}</b> on {day} (model {model}): {count} faces, PSI {psi}. "
        "The class mix differs from the mix the model was trained on; see /stats."
    ),
}


def drift_alert(row: DaySummary, t: Translator) -> str:
    psi = t.number(row.psi, 3) if row.psi is not None else "-"
    return t(DRIFT_ALERT.get(row.reference, DRIFT_ALERT["model"])).format(
        level=t(DRIFT_LEVELS[row.drift_level]),
        day=t.date(row.day),
        model=escape(row.model_version),
        count=t.number(row.count),
        psi=psi,
    )


def stats_caption(days: int, t: Translator) -> str:
    return t.ngettext("Last {count} day", "Last {count} days", days).format(count=days)


def reloaded(before: str, now: str, t: Translator) -> str:
    if now == before:
        return t("Model {now} is already the champion; nothing to reload.").format(now=escape(now))
    return t("Now answering with model {now} (was {before}).").format(now=escape(now), before=escape(before))


MODEL_UNUSABLE = N_(
    "⚠️ The champion model cannot answer, so I'm answering with model {now}:\n{reasons}\n\n"
    "Promote or roll back to a model that loads (in the console, or with <code>maskbot models</code>), "
    "then send /reload."
)
MAX_REASONS, REASON_CHARS = 5, 300
"""At most this many reasons of this length: a message must stay under Telegram's 4,096 characters."""


def model_unusable(failures: tuple[str, ...], now: str, t: Translator) -> str:
    """The admins' alert, and the answer to /reload, when the champion cannot load."""
    lines = [f"• {escape(reason[:REASON_CHARS])}" for reason in failures[:MAX_REASONS]]
    if len(failures) > MAX_REASONS:
        lines.append("• …")
    return t(MODEL_UNUSABLE).format(now=escape(now), reasons="\n".join(lines))


def model_card(summary: dict, t: Translator) -> str:
    lines = [
        t("<b>Model {version}</b> ({architecture})").format(
            version=escape(summary["version"]), architecture=escape(str(summary["architecture"]))
        ),
        t("Parameters: {parameters}, size on disk {size} MB").format(
            parameters=t.number(summary["parameters"]), size=t.number(summary["size_bytes"] / 1e6, 1)
        ),
        t("Created: {created}").format(created=escape(str(summary["created"]))),
        t("Unsure below {threshold} confidence, temperature {temperature}").format(
            threshold=t.percent(summary["threshold"]), temperature=t.number(summary["temperature"], 2)
        ),
    ]
    for name, scores in summary["metrics"].items():
        lines.append(
            t("{name}: balanced accuracy {balanced}, mask vs no mask {mask}").format(
                name=escape(name),
                balanced=t.percent(scores["balanced_accuracy"], 1),
                mask=t.percent(scores["mask_vs_no_mask_accuracy"], 1),
            )
        )
    if not summary["metrics"].get("test"):
        lines.append(t("No test scores recorded."))
    return "\n".join(lines)
