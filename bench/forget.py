"""How long /forget takes while other users' clips fill the clip lane (the /forget issue, item 5):
from the "Yes" press to "Deleting…" and to "Done", with the requester's own clip queued behind
`--clips` clips of other users that each take `--seconds` to decode (their decoding is
simulated by a sleep: the lane is what is measured, not FFmpeg). The real application in this
process, a local Bot API server.

    python -m bench.forget --clips 6 --seconds 3
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from model.messages import Message
from model.predictor import Predictor
from model.registry import SHIPPED_MODEL
from model.video import NotAClip
from tests.support.bot_harness import RunningBot, make_service, make_settings
from tests.support.fake_telegram import FakeTelegram
from tests.support.photos import encode, face_like

REQUESTER = 46


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    fake = FakeTelegram().start()
    settings = make_settings(fake, Path(tempfile.mkdtemp()), SHIPPED_MODEL)
    bot = RunningBot(fake, settings, make_service(settings, Predictor(SHIPPED_MODEL))).start()
    started: list[float] = []

    def slow_clip(data: bytes):
        started.append(time.monotonic())
        time.sleep(args.seconds)
        raise NotAClip(Message("damaged"))

    setattr(bot.service.judge, "_classify_clip", slow_clip)  # noqa: B010 - a stand-in for a slow clip
    try:
        fake.send_photo(REQUESTER, encode(face_like(640, 480)))
        fake.replies_to(REQUESTER)
        for user in range(100, 100 + args.clips):
            fake.send_clip(user, "video_note", b"\0" * 2000)
        fake.wait_for(lambda: started, what="the first clip decoding")
        fake.send_clip(REQUESTER, "video_note", b"\0" * 2000)
        fake.send_text(REQUESTER, "/forget")
        prompt = fake.replies_to(REQUESTER, 2)[1]
        pressed = time.time()
        fake.press(REQUESTER, prompt, prompt.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
        edits = fake.wait_for(
            lambda: (
                (found := fake.calls("editMessageText"))
                and any("deleted" in edit.params["text"] or "Done" in edit.params["text"] for edit in found)
                and found
            ),
            timeout=args.clips * args.seconds + 60,
            what="Done",
        )
        first, done = edits[0], edits[-1]
        print(
            f"{args.clips} other users' clips of {args.seconds:.0f} s each in the clip lane, the requester's "
            f"clip behind them: 'Yes' -> first edit ({first.params['text']!r}) {(first.at - pressed) * 1000:.0f} ms, "
            f"-> 'Done' {(done.at - pressed) * 1000:.0f} ms",
            flush=True,
        )
    finally:
        bot.stop()
        fake.stop()


if __name__ == "__main__":
    main()
