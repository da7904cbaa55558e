"""Hostile clips through the real `maskbot run` process, against a local Bot API server (the
hardening issue's items 1 and 2).

    python -m bench.clip_attacks queue containers
    python -m bench.clip_attacks decoder

queue: 20 users each send a "resize bomb" (a 64 px header, then 3,598 pictures of 1,920 px, one
key frame), then 20 other users send a photo each, one every 0.5 s (answered or not): each
photo's time from its update to its answer (p50, p95, max), and when the clips were all answered.
containers: the clips of `tests.support.clips.attack_set`, one after another from different
users: the bot process's resident memory before, its peak during them (VmHWM, reset first; the
decoding processes are not the bot's) and after.
decoder: the same clips through `model.video.decoded_frames` in this process, the structural
check turned off: what the decoding process alone holds (its peak, and this process's).

The bombs are made once and kept in the temporary folder (making the resize bomb takes minutes).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.e2e import answers, running_bot
from model import video
from tests.support.clips import attack_set, coded_clip, resize_bomb
from tests.support.fake_telegram import FakeTelegram
from tests.support.photos import encode, face_like
from tests.support.processes import peak_memory_mb, resident_mb
from training.speed import percentile

CLIPS = 20
PHOTOS = 20


def cached(name: str, make: Callable[[], bytes]) -> bytes:
    path = Path(tempfile.gettempdir()) / f"maskbot-bench-{name}"
    if not path.exists():
        path.write_bytes(make())
    return path.read_bytes()


def answered(fake: FakeTelegram, user: int, timeout: float = 600) -> list:
    return fake.wait_for(
        lambda: [r for r in answers(fake) if int(r.params["chat_id"]) == user], timeout, f"an answer to {user}"
    )


def reply_text(reply) -> str:
    return (reply.params.get("text") or reply.params.get("caption") or "")[:70]


def queue(fake: FakeTelegram, pid: int, photo: bytes) -> None:
    bomb = cached("resize-bomb.mp4", resize_bomb)
    started = time.time()
    for user in range(1000, 1000 + CLIPS):
        fake.send_clip(user, "video", bomb)
    sent = {}
    for user in range(2000, 2000 + PHOTOS):  # on a schedule, whether the photos before are answered or not
        sent[user] = time.time()
        fake.send_photo(user, photo)
        time.sleep(0.5)
    latencies = [answered(fake, user)[0].at - sent[user] for user in sent]
    clips = [answered(fake, user)[0] for user in range(1000, 1000 + CLIPS)]
    print(
        f"queue: {CLIPS} resize bombs ({len(bomb) / 1024 / 1024:.1f} MB each) queued, then {PHOTOS} photos from "
        f"other users: p50 {percentile(latencies, 0.5) * 1000:.0f} ms, p95 {percentile(latencies, 0.95) * 1000:.0f} "
        f"ms, max {max(latencies) * 1000:.0f} ms; the clips all answered after "
        f"{max(r.at for r in clips) - started:.0f} s ({reply_text(clips[0])!r}); bot peak {peak_memory_mb(pid):.0f} MB",
        flush=True,
    )


def containers(fake: FakeTelegram, pid: int) -> None:
    clips = attack_set()
    before = resident_mb(pid)
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM from now on
    for user, (name, data) in enumerate(clips.items(), start=3000):
        started = time.time()
        fake.send_clip(user, "video", data)
        reply = answered(fake, user)[0]
        print(
            f"containers: {name} ({len(data):,} bytes): answered in {reply.at - started:.1f} s, "
            f"{reply_text(reply)!r}; bot now {resident_mb(pid):.0f} MB",
            flush=True,
        )
    time.sleep(2)
    print(
        f"containers: the bot's memory {before:.0f} MB before, peak {peak_memory_mb(pid):.0f} MB, "
        f"{resident_mb(pid):.0f} MB after",
        flush=True,
    )


def decoder() -> None:
    """The attack set through the decoding process alone, the structural check that refuses it
    first turned off: what the process holds. Each clip in a fresh process, whose own peak and
    whose decoding child's peak are printed."""
    folder = Path(tempfile.mkdtemp())
    for name, data in attack_set().items():
        path = folder / "clip"
        path.write_bytes(data)
        result = subprocess.run(
            [sys.executable, "-m", "bench.clip_attacks", "decode-one", str(path)],
            capture_output=True,
            check=True,
            text=True,
        )
        print(f"decoder: {name}: {result.stdout.strip()}", flush=True)


def decode_one(path: str) -> None:
    import av  # noqa: F401  FFmpeg's libraries loaded first, as in a bot that has seen a clip

    video.check_structure = lambda data: None
    data = Path(path).read_bytes()
    before = peak_memory_mb(os.getpid())
    started = time.perf_counter()
    try:
        outcome = f"{len(video.decoded_frames(data))} frames"
    except video.ClipError as error:
        outcome = type(error).__name__
    seconds = time.perf_counter() - started
    server = video._server.process
    if server is not None and server.stdin is not None:  # ended, so that its clip's process is counted
        server.stdin.close()
        server.wait()
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"{outcome} in {seconds:.1f} s; this process's peak {before:.0f} -> "
        f"{peak_memory_mb(os.getpid()):.0f} MB, its decoding process's {child:.0f} MB"
    )


def main() -> int:
    if sys.argv[1:2] == ["decode-one"]:
        decode_one(sys.argv[2])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("attacks", nargs="+", choices=["queue", "containers", "decoder"])
    args = parser.parse_args()
    through_the_bot = [attack for attack in args.attacks if attack != "decoder"]
    if through_the_bot:
        photo = encode(face_like(1280, 960))
        fake = FakeTelegram().start()
        with running_bot(fake, 18000 + os.getpid() % 1000) as process:
            fake.send_photo(1, photo)  # the cold start, not counted
            fake.replies_to(1, timeout=120)
            fake.send_clip(2, "video_note", cached("note.mp4", lambda: coded_clip(30, (480, 480))))
            answered(fake, 2)
            for attack in through_the_bot:
                if attack == "queue":
                    queue(fake, process.pid, photo)
                else:
                    containers(fake, process.pid)
    if "decoder" in args.attacks:
        decoder()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
