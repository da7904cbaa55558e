"""Video notes through the real `maskbot run` process, against a local Bot API server.

    python -m bench.video --photo ../shared/data/masks3/with_mask/with_mask_1002.jpg

A 10-second 480 px video note (H.264 at 30 frames a second, as Telegram's apps record them: a
face photo filmed zooming and panning, some frames shaken) is sent `--repeats` times, one after
another, from different users; the script prints the time from the update being queued to the
answer reaching the Bot API server. Then `--burst` notes arrive at once and it prints the bot's
peak memory (VmHWM) during them, against its size before.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench.e2e import answers, running_bot
from tests.support.clips import panned_clip
from tests.support.fake_telegram import FakeTelegram
from tests.support.processes import cpu_seconds, peak_memory_mb, resident_mb
from training.speed import percentile


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", type=Path, required=True, help="a face photo to film")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--burst", type=int, default=10)
    args = parser.parse_args()

    picture = np.asarray(Image.open(args.photo).convert("RGB"))
    note = panned_clip(picture, (480, 480), seconds=10, fps=30, blurred=0.2, codec="libx264")
    fake = FakeTelegram().start()
    with running_bot(fake, 18000 + os.getpid() % 1000) as process:
        fake.send_clip(1, "video_note", note)  # the cold start, not counted
        fake.wait_for(lambda: answers(fake), timeout=120, what="the first answer")
        latencies = []
        cpu_before = cpu_seconds(process.pid)
        for user in range(100, 100 + args.repeats):
            sent = time.time()
            fake.send_clip(user, "video_note", note)
            reply = fake.wait_for(lambda user=user: [r for r in answers(fake) if int(r.params["chat_id"]) == user])[0]
            latencies.append((reply.at - sent) * 1000)
        cpu = (cpu_seconds(process.pid) - cpu_before) / args.repeats
        print(
            f"video note: {len(note) / 1024:.0f} KB, 480x480, 10 s at 30 fps, H.264; answers: "
            f"{sorted({r.method for r in answers(fake)})}"
        )
        print(
            f"time to answer, {args.repeats} notes one after another: p50 {statistics.median(latencies):.0f} ms, "
            f"p95 {percentile(latencies, 0.95):.0f} ms, max {max(latencies):.0f} ms; "
            f"bot CPU {cpu * 1000:.0f} ms a note"
        )
        # The peak from here on: writing 5 to clear_refs sets VmHWM back to the current size.
        Path(f"/proc/{process.pid}/clear_refs").write_text("5")
        before = resident_mb(process.pid)
        answered = len(answers(fake))
        sent = time.time()
        for user in range(1000, 1000 + args.burst):
            fake.send_clip(user, "video_note", note)
        fake.wait_for(lambda: len(answers(fake)) >= answered + args.burst, timeout=300, what="every answer")
        last = max(r.at for r in answers(fake)) - sent
        print(
            f"{args.burst} notes at once: all answered in {last:.1f} s; bot memory {before:.0f} MB before, "
            f"peak {peak_memory_mb(process.pid):.0f} MB during"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
