"""Every text the bot sends, in one place, so wording stays consistent and reviewable."""

from __future__ import annotations

from collections import Counter
from html import escape

from model.predictor import PhotoPrediction, Prediction
from storage.repository import CLASS_NAMES, DaySummary, Deleted, Stats

VERDICT = {
    "with_mask": ("✅", "Mask on"),
    "without_mask": ("❌", "No mask"),
    "mask_weared_incorrect": ("⚠️", "Mask worn incorrectly"),
}
NOT_SURE = "Not sure"
SYMBOL = {"with_mask": "✓", "without_mask": "✗", "mask_weared_incorrect": "!", "unsure": "?"}
"""Drawn beside each face's number on a group photo (bot.drawing) and repeated in its caption:
the verdicts are not told by colour alone."""
GROUP_NAMES = {
    "with_mask": "mask on",
    "without_mask": "no mask",
    "mask_weared_incorrect": "mask worn incorrectly",
    "unsure": "not sure",
}
CAPTION_LIMIT = 1024
"""Telegram's limit on a photo's caption."""
GROUP_RATE_HINT = "<i>Tap a face's number below to tell me whether I got it right.</i>"
ADVICE = {
    "with_mask": "Well done. Keep it snug over your nose and under your chin, and change it when it gets damp.",
    "without_mask": "Where a mask is needed, cover your nose and mouth and press the nose clip to fit.",
    "mask_weared_incorrect": "Pull the mask up over your nose and down under your chin, then press the nose "
    "clip so it fits closely.",
}
UNSURE_ADVICE = "Send a clear, well-lit photo of your face from the front, and I'll take another look."
GUESS = {
    "with_mask": "a mask worn properly",
    "without_mask": "no mask",
    "mask_weared_incorrect": "a mask that is not covering nose and mouth",
}

START = (
    "Hi! I check whether a face mask is worn correctly.\n\n"
    "Send me a photo of your face (a selfie works best) and I'll answer <b>Mask on</b>, <b>No mask</b> or "
    "<b>Mask worn incorrectly</b>, with tips for a better photo when I need them.\n\n"
    "For a good photo:\n"
    "• face the camera, your face filling about a third of the picture\n"
    "• stand in even light, not with a window behind you\n"
    "• hold still so the photo is sharp\n\n"
    "Tap <b>Right</b> or <b>Wrong</b> under my answers to help me learn. "
    "/privacy tells what I keep; /forget deletes it."
)
PRIVACY = (
    "<b>What I keep</b>\n"
    "• For each photo: my answer, its confidence, the model version, simple photo facts (size, brightness, "
    "sharpness, whether a face was found) and the time.\n"
    "• Who sent it only as a keyed pseudonym: not your Telegram id, name or username.\n"
    "• Your photo is <b>not</b> stored. Only if you rate an answer (<i>Right</i> or <i>Wrong</i>) and then "
    "agree, a small 128x128 crop of the face (without any photo metadata) is kept to improve the model. "
    "Changed your mind? /forget deletes it with everything else.\n\n"
    "<b>For how long</b>\nEverything is deleted after {days} days.\n\n"
    "<b>Delete it now</b>\nSend /forget to delete everything about you at once."
)
RIGHT, WRONG = "👍 Right", "👎 Wrong"
ALL_FACES = "◀ All faces"
SHARE_YES, SHARE_NO = "Yes, share the face crop", "No, don't"
CONSENT_QUESTION = "May I keep the 128x128 face crop to improve the model?"
WHICH_LABEL = "Which answer is right?"
THANKS = "Thank you!"
THANKS_LINE = "\n\n<i>Thanks for your feedback!</i>"
NOT_YOUR_PHOTO = "Only the person who sent this photo can rate the answer."


def face_button(number: int, text: str) -> str:
    return f"{number}: {text}"


def face_thanks(number: int) -> str:
    return f"Thank you! Face {number} is rated."


def face_chosen(number: int) -> str:
    return f"Face {number}: was I right?"


BUTTON_EXPIRED = "This button no longer works. Send the photo again to rate a new answer."
ALREADY_RATED = "You already rated this answer. Thank you!"
CONSENT_WITHDRAWN = "Done: the face crop you shared is deleted. Your rating stays."
NOT_YOUR_FORGET = "Only the person who sent /forget can answer this. Send /forget yourself to delete your data."
NOTHING_DELETED = "Nothing was deleted."
DRIFT_CHART_CAPTION = "Faces judged per day; triangles mark drift"
FORGET_CONFIRM = "This deletes every answer, feedback and shared photo crop I keep about you. Delete now?"
NOT_AN_IMAGE_DOCUMENT = "I can only check photos. Please send a photo of your face (JPEG or PNG), not a {kind}."
TOO_LARGE = "This file is {size} MB; I can check files up to {limit} MB. Please send it as a photo instead."
TOO_LARGE_UNKNOWN = "This file is larger than the {limit} MB I can check. Please send it as a photo instead."
RATE_LIMITED_MESSAGES = "You're sending messages faster than I can answer. Please wait {seconds} s and try again."
RATE_LIMITED = "You're sending photos faster than I can look at them carefully. Please wait {seconds} s and try again."
ERROR = "Sorry, something went wrong on my side while checking that. Please try again in a moment."
UNKNOWN_COMMAND = "I don't know that command. Send /help to see what I can do."
OTHER_CONTENT = {
    "text": "Send me a photo of your face and I'll tell you whether your mask is on correctly. /help has tips.",
    "sticker": "Nice sticker! I can only check real photos, though: send me a selfie.",
    "video": "I can't check videos. Please send a still photo of your face.",
    "animation": "I can't check GIFs or animations. Please send a still photo of your face.",
    "voice": "I can't listen, sorry. Please send a photo of your face.",
    "audio": "I can't listen, sorry. Please send a photo of your face.",
    "video_note": "I can't check video messages. Please send a still photo of your face.",
    "other": "I can only check photos. Please send a photo of your face.",
}


def verdict(prediction: Prediction) -> str:
    """First line: exactly one verdict phrase and the confidence; then tips; then advice."""
    percent = f"{prediction.confidence:.0%}"
    if prediction.unsure:
        lines = [
            f"🤔 {NOT_SURE} ({percent})",
            f"It looks most like {GUESS[prediction.label]}, but I can't tell reliably.",
        ]
    else:
        emoji, phrase = VERDICT[prediction.label]
        lines = [f"{emoji} {phrase} ({percent} sure)"]
    if prediction.framing.tips:
        lines.append("")
        lines.extend(f"• {escape(tip)}" for tip in prediction.framing.tips)
    lines.append("")
    lines.append(UNSURE_ADVICE if prediction.unsure else ADVICE[prediction.label])
    return "\n".join(lines)


def verdict_key(prediction: Prediction) -> str:
    """The label, or "unsure": how a face is counted, coloured and marked."""
    return "unsure" if prediction.unsure else prediction.label


def group_caption(photo: PhotoPrediction) -> str:
    """The sum-up first ("5 faces: 3 mask on, 1 no mask, 1 not sure"), then every numbered
    face: the ones with a mask on together, each other one on its own line."""
    keys = [verdict_key(p) for p in photo.faces]
    counts = Counter(keys)
    parts = [f"{counts[key]} {GROUP_NAMES[key]}" for key in (*CLASS_NAMES, "unsure") if counts[key]]
    head = [f"<b>{len(keys)} faces</b>: {', '.join(parts)}"]
    masked = [str(number) for number, key in enumerate(keys, start=1) if key == "with_mask"]
    if masked:
        head.append(f"{SYMBOL['with_mask']} {VERDICT['with_mask'][1]}: {', '.join(masked)}")
    faces = []
    for number, (prediction, key) in enumerate(zip(photo.faces, keys, strict=True), start=1):
        if key == "unsure":
            faces.append(f"{number} {SYMBOL[key]} {NOT_SURE}: looks most like {GUESS[prediction.label]}")
        elif key != "with_mask":
            faces.append(f"{number} {SYMBOL[key]} {VERDICT[key][1]} ({prediction.confidence:.0%} sure)")
    tail = []
    if photo.too_small:
        tail.append(f"{len(photo.too_small)} more too small to judge (grey boxes)")
    if photo.not_checked:
        tail.append(f"{photo.not_checked} more not checked: I look at the {len(keys)} largest faces")
    tail.append(GROUP_RATE_HINT)
    # Twenty faces' lines fit; should they not, the last ones give way to a pointer to the photo.
    while len("\n".join(head + faces + tail)) > CAPTION_LIMIT and faces:
        faces = [*faces[:-2], "… the other faces' verdicts are on the photo"]
    return "\n".join(head + faces + tail)


def privacy(retention_days: int) -> str:
    return PRIVACY.format(days=retention_days)


def forgotten(result: Deleted) -> str:
    if not result.predictions and not result.feedback:
        return "Done. I had nothing stored about you."
    return (
        f"Done. I deleted {result.predictions} answer(s), {result.feedback} feedback note(s) "
        f"and {result.crops} shared photo crop(s)."
    )


def stats_table(stats: Stats, model_version: str) -> str:
    lines = [
        f"<b>Stats {stats.start} to {stats.end}</b> (model {escape(model_version)})",
        f"Photos checked: {stats.photos}, faces judged: {stats.count}",
    ]
    for name in CLASS_NAMES:
        share = f"{stats.per_class[name] / stats.count:.0%}" if stats.count else "-"
        lines.append(f"<code>{VERDICT[name][1]:<22}{stats.per_class[name]:>6} {share:>5}</code>")
    unsure = f"{stats.unsure_share:.0%}" if stats.unsure_share is not None else "-"
    disagreement = f"{stats.disagreement_rate:.0%}" if stats.disagreement_rate is not None else "-"
    lines.append(f"Not sure: {unsure}")
    lines.append(f"Feedback: {stats.feedback}, marked wrong: {disagreement}")
    levels = [row.drift_level for row in stats.per_day]
    worst = "drift" if "drift" in levels else "watch" if "watch" in levels else "none"
    lines.append(f"Drift level (worst day): {worst}")
    return "\n".join(lines)


def drift_report(rows: list[DaySummary]) -> str:
    if not rows:
        return "No daily summaries yet: they are computed each day at the summary time."
    lines = ["<b>Drift, most recent days</b>"]
    for row in rows:
        psi = f"PSI {row.psi:.3f}" if row.psi is not None else "PSI -"
        lines.append(
            f"{row.day} model {escape(row.model_version)}: {row.count} faces, {psi}, level <b>{row.drift_level}</b>"
        )
    return "\n".join(lines)


DRIFT_REFERENCE = {"trailing": "from the 28 days before", "model": "from the mix the model was trained on"}


def drift_alert(row: DaySummary) -> str:
    compared = DRIFT_REFERENCE.get(row.reference, "from what was expected")
    psi = f"{row.psi:.3f}" if row.psi is not None else "-"
    return (
        f"⚠️ Drift <b>{row.drift_level}</b> on {row.day} (model {escape(row.model_version)}): "
        f"{row.count} faces, PSI {psi}. The class mix differs {compared}; see /stats."
    )


STATS_USAGE = "Usage: /stats [days], with days from 1 to {most}."


def stats_caption(days: int) -> str:
    return f"Last {days} day(s)"


def reloaded(before: str, now: str) -> str:
    if now == before:
        return f"Model {escape(now)} is already the champion; nothing to reload."
    return f"Now answering with model {escape(now)} (was {escape(before)})."


def model_card(summary: dict) -> str:
    test = summary["metrics"].get("test", {})
    lines = [
        f"<b>Model {escape(summary['version'])}</b> ({escape(str(summary['architecture']))})",
        f"Parameters: {summary['parameters']:,}, size on disk {summary['size_bytes'] / 1e6:.1f} MB",
        f"Created: {summary['created']}",
        f"Unsure below {summary['threshold']:.0%} confidence, temperature {summary['temperature']:.2f}",
    ]
    for name, scores in summary["metrics"].items():
        lines.append(
            f"{escape(name)}: balanced accuracy {scores['balanced_accuracy']:.1%}, "
            f"mask vs no mask {scores['mask_vs_no_mask_accuracy']:.1%}"
        )
    if not test:
        lines.append("No test scores recorded.")
    return "\n".join(lines)
