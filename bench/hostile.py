"""Other users' reply latency while the bot is attacked, against a quiet run (the hardening issue's
items 1 and 2): four users sending three files each that decode huge, or 70 texts into a chat
Telegram answers "retry after 60". The real application in this process, a local Bot API server.

    python -m bench.hostile none files texts
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from model.predictor import Predictor
from model.registry import SHIPPED_MODEL
from tests.support.bot_harness import RunningBot, make_service, make_settings
from tests.support.fake_telegram import FakeTelegram
from tests.support.photos import encode, face_like
from training.speed import percentile

PHOTOS = 20


def hostile_file_bytes() -> list[bytes]:
    """The first three hostile files, made in a child process: making them takes far more memory
    than decoding them should, and this process's peak is what is measured."""
    folder = Path(tempfile.mkdtemp())
    script = (
        "import sys; from tests.support.photos import hostile_files\n"
        "for i, (_, data) in enumerate(list(hostile_files())[:3]): open(f'{sys.argv[1]}/{i}', 'wb').write(data)"
    )
    subprocess.run([sys.executable, "-c", script, str(folder)], check=True, cwd=Path(__file__).resolve().parent.parent)
    return [(folder / str(i)).read_bytes() for i in range(3)]


def measure(attack: str, predictor: Predictor) -> list[float]:
    """Seconds from each of PHOTOS other users' photos to its verdict, one every 0.2 s."""
    fake = FakeTelegram().start()
    settings = make_settings(fake, Path(tempfile.mkdtemp()), SHIPPED_MODEL)
    bot = RunningBot(fake, settings, make_service(settings, predictor)).start()
    latencies = []
    try:
        if attack == "files":
            files = hostile_file_bytes()
            for user in range(100, 104):
                for data in files:
                    fake.send_document(user, data, "picture.png", "image/png")
        elif attack == "texts":
            fake.flooded_chats[200] = 60
            for i in range(70):
                fake.send_text(200, f"spam {i}")
        photo = encode(face_like(1280, 960))
        for user in range(300, 300 + PHOTOS):
            started = time.monotonic()
            fake.send_photo(user, photo)
            fake.replies_to(user, timeout=120)
            latencies.append(time.monotonic() - started)
            time.sleep(0.2)
    finally:
        bot.stop()
        fake.stop()
    return sorted(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("attacks", nargs="+", choices=["none", "files", "texts"])
    args = parser.parse_args()
    predictor = Predictor(SHIPPED_MODEL)
    for attack in args.attacks:
        latencies = measure(attack, predictor)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{attack:<6} other users' photos: p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms; "
            f"peak memory of this process so far {peak:.0f} MB",
            flush=True,
        )


if __name__ == "__main__":
    main()
