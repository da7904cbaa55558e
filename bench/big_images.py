"""Many users each sending a big image at once (the hardening issues): the bot's peak memory
while they are answered, and what it still holds a few seconds after the last answer. The real
`maskbot run` process against a local Bot API server.

    python -m bench.big_images --users 60 answered refused

"answered": noisy JPEGs of about 19.6 MB with a drawn face, each answered with a verdict;
"refused": noisy JPEGs of about 15 MB without a face, each answered "I can't find a face".
Each case runs in a fresh bot process.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench.e2e import answers, running_bot
from tests.support.fake_telegram import FakeTelegram
from tests.support.photos import encode, face_like, textured
from tests.support.processes import peak_memory_mb, resident_mb

CASES = {"answered": (19.6, True), "refused": (15.0, False)}
"""Each case's file size in MB, and whether its picture shows a face."""
AFTER_SECONDS = 3.0


def noisy_jpeg(megabytes: float, face: bool) -> bytes:
    """A JPEG of about `megabytes` MB: noise keeps it from compressing, a drawn face (or none)
    decides its answer."""
    rng = np.random.default_rng(0)
    side = 3000
    while True:
        width, height = side * 4 // 3, side
        picture = face_like(width, height) if face else textured(width, height, seed=1)
        noise = rng.integers(-60, 60, (height, width, 3), dtype=np.int16)
        data = encode(Image.fromarray(np.clip(np.asarray(picture) + noise, 0, 255).astype(np.uint8)), quality=100)
        if abs(len(data) / 1e6 - megabytes) < 0.5:
            return data
        side = round(side * (megabytes * 1e6 / len(data)) ** 0.5)


def measure(case: str, users: int) -> None:
    megabytes, face = CASES[case]
    picture = noisy_jpeg(megabytes, face)
    fake = FakeTelegram().start()
    with running_bot(fake, 18000 + os.getpid() % 1000) as process:
        fake.send_text(1, "/help")  # the bot is up, and has answered once
        fake.wait_for(lambda: answers(fake), timeout=120, what="the first answer")
        time.sleep(1.0)
        # The peak from here on: writing 5 to clear_refs sets VmHWM back to the current size.
        Path(f"/proc/{process.pid}/clear_refs").write_text("5")
        before = resident_mb(process.pid)
        sent = time.time()
        for user in range(1000, 1000 + users):
            fake.send_photo(user, picture)
        fake.wait_for(lambda: len(answers(fake)) >= 1 + users, timeout=600, what="every answer")
        last = max(r.at for r in answers(fake)) - sent
        peak = peak_memory_mb(process.pid)
        time.sleep(AFTER_SECONDS)
        after = resident_mb(process.pid)
        texts = [r.params.get("text", "") for r in answers(fake)[1:]]
        verdicts = sum("%" in text.splitlines()[0] for text in texts if text)
        no_face = sum("can't find a face" in text for text in texts)
        print(
            f"{case}: {users} users x {len(picture) / 1e6:.1f} MB JPEG at once ({verdicts} verdicts, "
            f"{no_face} 'no face'), all answered in {last:.1f} s; bot memory {before:.0f} MB before, "
            f"peak {peak:.0f} MB, {after:.0f} MB {AFTER_SECONDS:.0f} s after the last answer",
            flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="+", choices=sorted(CASES))
    parser.add_argument("--users", type=int, default=60)
    args = parser.parse_args()
    for case in args.cases:
        measure(case, args.users)
    return 0


if __name__ == "__main__":
    sys.exit(main())
