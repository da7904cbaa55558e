"""End-to-end benchmark: the real `maskbot run` process against a local Bot API server.

    python -m bench.e2e --photos ../shared/data/masks3 --rate 30 --seconds 20

Simulated users send real photos (enlarged to phone size) at a fixed total rate; the script
prints sustained photos per second, reply latency percentiles (update queued -> reply received
by the Bot API server), the bot's CPU use and peak memory, and the cold start to first answer.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from PIL import Image

from tests.support.fake_telegram import TOKEN, FakeTelegram
from tests.support.processes import cpu_seconds, peak_memory_mb
from training.speed import percentile

ROOT = Path(__file__).resolve().parent.parent
"""The repository, where the bot's processes start."""


def load_photos(folder: Path, count: int, side: int, seed: int = 0) -> list[bytes]:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    chosen = random.Random(seed).sample(files, min(count, len(files)))
    photos = []
    for path in chosen:
        image = Image.open(path).convert("RGB")
        scale = side / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=87)
        photos.append(buffer.getvalue())
    return photos


def answers(fake: FakeTelegram) -> list:
    """Every reply: a text, or an annotated photo for a group photo."""
    return sorted(fake.calls("sendMessage") + fake.calls("sendPhoto"), key=lambda r: r.at)


@contextlib.contextmanager
def running_bot(fake: FakeTelegram, port: int) -> Iterator[subprocess.Popen]:
    """`maskbot run` in a fresh process on a fresh data folder, polling `fake` (already started);
    the bot and `fake` are stopped however the benchmark ends."""
    env = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "TELEGRAM_FILE_BASE_URL": fake.base_file_url,
        "DATA_DIR": tempfile.mkdtemp(prefix="maskbot-bench-"),
        "PORT": str(port),
        "MASKBOT_SECRET": "bench-secret-of-at-least-32-characters",
        "LOG_LEVEL": "WARNING",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    env.pop("DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "run"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(60)
        fake.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, required=True, help="a folder of photos (searched recursively)")
    parser.add_argument("--rate", type=float, default=30.0, help="photos per second, all users together")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--users", type=int, default=0, help="default: enough to stay under the rate limit")
    parser.add_argument("--side", type=int, default=1280, help="longest side of the photos sent")
    args = parser.parse_args()

    total = int(args.rate * args.seconds)
    users = args.users or max(1, int(total / 9) + 1)  # each user at most 9 photos: under 10 a minute
    photos = load_photos(args.photos, 200, args.side)
    fake = FakeTelegram().start()
    port = 18000 + os.getpid() % 1000
    started = time.perf_counter()
    fake.send_photo(1, photos[0])  # waiting for the bot before it even started: the cold start
    with running_bot(fake, port) as process:
        fake.replies_to(1, timeout=120)
        cold_start = time.perf_counter() - started
        sent_at: dict[int, list[float]] = {}
        cpu_before, wall_before = cpu_seconds(process.pid), time.perf_counter()
        interval = 1.0 / args.rate
        for i in range(total):
            due = wall_before + i * interval
            time.sleep(max(0.0, due - time.perf_counter()))
            user = 1000 + i % users
            sent_at.setdefault(user, []).append(time.time())
            fake.send_photo(user, photos[i % len(photos)])
        fake.wait_for(lambda: len(answers(fake)) >= total + 1, timeout=300, what="every reply")
        wall = time.perf_counter() - wall_before
        cpu = cpu_seconds(process.pid) - cpu_before
        replies = [r for r in answers(fake) if int(r.params["chat_id"]) >= 1000]
        groups = sum(r.method == "sendPhoto" for r in replies)
        # Each user's replies come in the order of that user's photos.
        latencies = [
            (reply.at - sent_at[int(reply.params["chat_id"])].pop(0)) * 1000
            for reply in sorted(replies, key=lambda r: r.at)
        ]
        limited = sum("faster than I can" in r.params.get("text", "") for r in replies)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert response.status == 200
        print(
            f"photos sent: {total} at {args.rate:.0f}/s by {users} users ({args.side} px JPEGs, "
            f"{statistics.mean(map(len, photos)) / 1024:.0f} KB on average); rate-limited answers: {limited}; "
            f"answered as group photos: {groups}"
        )
        print(f"sustained throughput: {total / wall:.1f} photos/s over {wall:.1f} s")
        print(
            f"reply latency ms: p50 {percentile(latencies, 0.5):.0f}  p95 {percentile(latencies, 0.95):.0f}  "
            f"p99 {percentile(latencies, 0.99):.0f}  max {max(latencies):.0f}"
        )
        print(
            f"bot process: CPU {cpu / wall * 100:.0f}% of one core on average ({os.cpu_count()} cores), "
            f"peak memory {peak_memory_mb(process.pid):.0f} MB"
        )
        print(f"cold start to first answer: {cold_start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
