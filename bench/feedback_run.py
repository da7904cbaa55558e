"""A real retraining run through the bot's own feedback flow, as docs/operating.md, "Retraining from user feedback", describes it.

    python -m bench.feedback_run --data ../shared/data/masks3 --count 300 --check ../shared/data/external2

Users (simulated against a local Bot API server) send masks3 validation-split photos to the real
`maskbot run` process and answer the feedback buttons truthfully: "Right", or "Wrong" and the true
label, agreeing to share the crop. Then the operator's commands run: review (accept all), export,
retrain with the gate. The validation split is used because the champion never trained on it and
the fixed test split must stay out of training.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path

from bot.replies import LOOKS_LIKE, VERDICT
from model import CLASS_NAMES
from model.registry import SHIPPED_MODEL
from tests.support.fake_telegram import TOKEN, FakeTelegram
from training.dataset import Split

ROOT = Path(__file__).resolve().parent.parent
"""The repository, where the bot's processes start."""


def answered_label(text: str) -> str:
    first, _, rest = text.partition("\n")
    for name, (_, phrase) in VERDICT.items():
        if phrase in first:
            return name
    return next(name for name, sentence in LOOKS_LIKE.items() if rest.splitlines()[0] == sentence)


def replies_to(fake: FakeTelegram, user: int) -> list:
    """The bot's answers to one user: texts, and annotated photos for group photos."""
    return fake.calls("sendMessage", user) + fake.calls("sendPhoto", user)


def thanked(fake: FakeTelegram, user: int) -> bool:
    return any(r.params.get("chat_id") in (user, str(user)) for r in fake.calls("editMessageText"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--check", type=Path, action="append", default=[])
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--from-scratch", action="store_true")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="maskbot-feedback-"))
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "MASKBOT_SECRET": "feedback-run-secret-of-32-characters",
        "LOG_LEVEL": "WARNING",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    env.pop("DATABASE_URL", None)
    env.pop("MODEL_DIR", None)
    validation = Split.load(SHIPPED_MODEL / "split.json").files("val")
    chosen = random.Random(0).sample(validation, min(args.count, len(validation)))
    fake = FakeTelegram().start()
    bot = subprocess.Popen(
        [sys.executable, "-m", "cli", "run"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={
            **env,
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": fake.base_url,
            "TELEGRAM_FILE_BASE_URL": fake.base_file_url,
        },
    )
    wrong = 0
    try:
        for i, name in enumerate(chosen):
            user = 10_000 + i
            truth = name.split("/")[0]
            fake.send_photo(user, (args.data / name).read_bytes())
            reply = fake.wait_for(partial(replies_to, fake, user), timeout=120, what="a reply")[0]
            markup = reply.params.get("reply_markup")
            # Only one-face answers are rated here: a group photo's faces are rated one by one.
            if not markup or reply.method == "sendPhoto":
                continue
            prediction_id = markup["inline_keyboard"][0][0]["callback_data"].split("|")[1]
            if answered_label(reply.params["text"]) == truth:
                fake.press(user, reply, f"fb|{prediction_id}|ok")
                fake.press(user, reply, f"fb|{prediction_id}|share|right|1")
            else:
                wrong += 1
                fake.press(user, reply, f"fb|{prediction_id}|no")
                fake.press(user, reply, f"fb|{prediction_id}|is|{CLASS_NAMES.index(truth)}")
                fake.press(user, reply, f"fb|{prediction_id}|share|{CLASS_NAMES.index(truth)}|1")
            fake.wait_for(partial(thanked, fake, user), what="the thank-you")
        print(f"{len(chosen)} photos sent through the bot; {wrong} answers marked wrong and corrected")
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(60)
        fake.stop()

    def maskbot(*command: str) -> None:
        print(f"$ maskbot {' '.join(command)}", flush=True)
        subprocess.run([sys.executable, "-m", "cli", *command], cwd=ROOT, env=env, check=command[0] != "retrain")

    maskbot("feedback", "review", "--accept-all")
    export = data_dir / "export"
    maskbot("feedback", "export", str(export), "--all")
    retrain = ["retrain", "--base", str(args.data), "--feedback", str(export)]
    for check in args.check:
        retrain += ["--check", str(check)]
    if args.epochs:
        retrain += ["--epochs", str(args.epochs)]
    if args.from_scratch:
        retrain.append("--from-scratch")
    maskbot(*retrain)
    maskbot("models", "list")
    return 0


if __name__ == "__main__":
    sys.exit(main())
