"""The child process that decodes one clip for the bot (`model.video.decoded_frames` starts it):
`python -m model.clip_process`, the clip on its standard input, the sampled frames (or why there
are none) on its standard output.

It limits itself before it imports FFmpeg or reads a byte of the clip: its address space
(MEMORY_BYTES), its CPU time (CPU_LIMIT_SECONDS, a backstop to the decoder's own CPU_SECONDS),
its open files, and no file written; and it runs at a lower priority than the bot, so photos get
the cores first. Whatever a hostile container makes FFmpeg allocate, it allocates here, and the
process dies with it.

Its output is a series of records, each a tag byte, a 4-byte big-endian length and the payload:
`F` a frame (an `.npy` array, RGB), `E` a refusal (JSON: the ClipError's class name, its message
template and values). Nothing else is written to the standard output.
"""

from __future__ import annotations

import os
import resource
import struct
import sys

MEMORY_BYTES = 1024 * 1024 * 1024
"""The child's address space. Python, NumPy and PyAV take about 600 MB of it (mostly mapped, not
used); decoding a full HD clip about 100 MB more."""
CPU_LIMIT_SECONDS = 8
"""Past this the kernel stops the child (SIGXCPU, then SIGKILL a second later)."""
OPEN_FILES = 32
NICENESS = 10


def limit_self() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT_SECONDS, CPU_LIMIT_SECONDS + 1))
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.nice(NICENESS)


def write_record(out, tag: bytes, payload: bytes) -> None:
    out.write(tag + struct.pack(">I", len(payload)) + payload)


def main() -> int:
    limit_self()
    import io
    import json

    import av  # loaded before the clip comes: a spare child waits here, ready  # noqa: F401
    import numpy as np

    from model.video import SAMPLES, ClipError, sample_frames

    count = int(sys.argv[1]) if len(sys.argv) > 1 else SAMPLES
    data = sys.stdin.buffer.read()
    out = sys.stdout.buffer
    try:
        for frame in sample_frames(data, count):
            buffer = io.BytesIO()
            np.save(buffer, frame, allow_pickle=False)
            write_record(out, b"F", buffer.getvalue())
    except ClipError as error:
        refusal = {"kind": type(error).__name__, "template": error.message.template, "values": error.message.values}
        write_record(out, b"E", json.dumps(refusal).encode())
    out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
