"""A door camera through the real `maskbot watch` process, on one core.

    python -m bench.camera --minutes 10

An MJPEG camera on 127.0.0.1 sends 1280x720 frames, 10 a second, with five people in the picture
at every moment (masks3 close-ups, 200 px, walking across in 8 s, in three rows), for `--minutes`.
The watcher runs pinned to one core (`taskset -c 0`) at its default 4 frames a second (`--fps`
asks for more, to find what one core judges at most). Printed: the share of the core it used;
frames judged a second (the watcher's own per-minute log lines) and samples dropped; the delay
from a person leaving the picture to their count in the database (p50, p95); the people counted
against those who walked past; the watcher's resident memory minute by minute and its peak (VmHWM).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from model.registry import SHIPPED_MODEL
from storage import cameras
from storage.database import Database
from tests.support import ROOT
from tests.support.cameras import MjpegCamera, Walker, close_ups, jpegs
from tests.support.processes import cpu_seconds, peak_memory_mb, resident_mb
from training.speed import percentile

CROSSING = 8.0
"""Seconds a person takes to cross the picture; the clip loops every CROSSING seconds."""
FPS = 10


def door(loops: int) -> tuple[list[bytes], list[float], int]:
    """The looped stream's frames; in stream seconds, when each person leaves the picture; and how
    many are still in it when the stream ends (counted when the watcher stops)."""
    faces = close_ups("with_mask", 3) + close_ups("without_mask", 2)
    rows = (20, 260, 500)
    # Two people a row, half a crossing apart, in the first two rows; one in the third: five always.
    walkers = []
    for index, face in enumerate(faces):
        row, phase = divmod(index, 2)
        start = phase * CROSSING / 2
        # Each walker crosses from `start`, wrapping round the loop: two walkers cover a crossing's halves.
        walkers.append(Walker(face, start - CROSSING, start, rows[row], rightwards=row != 1))
        walkers.append(Walker(face, start, start + CROSSING, rows[row], rightwards=row != 1))
    loop = jpegs(walkers, CROSSING, FPS)
    departures = sorted(
        lap * CROSSING + (walker.leave % CROSSING or CROSSING)
        for lap in range(loops)
        for walker in walkers
        if 0 < walker.leave <= CROSSING
    )
    still_there = sum(1 for walker in walkers if walker.enter < CROSSING < walker.leave)
    return loop * loops, departures, still_there


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument(
        "--fps", type=float, default=4.0, help="WATCH_FPS: above what one core judges, to find its ceiling"
    )
    args = parser.parse_args()
    loops = max(1, round(args.minutes * 60 / CROSSING))
    frames, departures, still_there = door(loops)
    with tempfile.TemporaryDirectory() as data, MjpegCamera(frames, FPS) as camera:
        env = {
            **os.environ,
            "DATA_DIR": data,
            "MODEL_DIR": str(SHIPPED_MODEL),
            "PYTHONPATH": str(ROOT),
            "WATCH_FPS": str(args.fps),
        }
        log_path = Path(data) / "watch.log"
        with log_path.open("w") as log:
            watcher = subprocess.Popen(
                ["taskset", "-c", "0", sys.executable, "-m", "cli", "watch", camera.url, "--name", "bench"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            database = Database(f"sqlite:///{Path(data) / 'maskbot.db'}")
            totals: list[tuple[float, int]] = []
            memory: list[float] = []
            next_minute = time.monotonic() + 60
            since = datetime.now(UTC) - timedelta(minutes=1)
            while camera.position < len(frames) and watcher.poll() is None:
                time.sleep(0.25)
                tally = cameras.tallies(database, since, datetime.now(UTC) + timedelta(minutes=1), "bench")
                totals.append((time.monotonic(), tally[0].people if tally else 0))
                if time.monotonic() >= next_minute:
                    memory.append(resident_mb(watcher.pid))
                    next_minute += 60
            peak = peak_memory_mb(watcher.pid)
            cpu = cpu_seconds(watcher.pid) / (time.monotonic() - camera.sent_at[0])
            watcher.terminate()
            watcher.wait(60)
            database.dispose()
        output = log_path.read_text()
    started = camera.sent_at[0]
    delays = []
    for number, leaves in enumerate(departures, start=1):
        left_at = started + leaves
        counted_at = next((moment for moment, total in totals if total >= number), None)
        if counted_at is not None:
            delays.append(counted_at - left_at)
    rates = [float(value) for value in re.findall(r"judged_per_s=([0-9.]+)", output)]
    dropped = [int(value) for value in re.findall(r"dropped=([0-9]+)", output)]
    counted = re.search(r"camera bench: ([0-9]+) people counted", output)
    print(
        f"stream: 1280x720 MJPEG, {FPS} frames/s, 5 people always in the picture, {args.minutes:g} min; "
        f"the watcher on one core at WATCH_FPS={args.fps:g}, using {cpu:.0%} of it"
    )
    if rates:
        print(
            f"frames judged per second: median {statistics.median(rates):.2f}, lowest {min(rates):.2f} "
            f"(per minute: {', '.join(f'{rate:.2f}' for rate in rates)})"
        )
        print(f"samples dropped per minute: {', '.join(map(str, dropped))}")
    if delays:
        print(
            f"leaving the picture -> counted in the database: p50 {statistics.median(delays):.1f} s, "
            f"p95 {percentile(delays, 0.95):.1f} s, max {max(delays):.1f} s"
        )
    print(
        f"people counted {counted.group(1) if counted else '?'} of {len(departures) + still_there} "
        f"({len(departures)} who walked out, {still_there} in the picture at the end)"
    )
    print(f"resident memory by minute (MB): {', '.join(f'{mb:.0f}' for mb in memory)}; peak (VmHWM) {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
