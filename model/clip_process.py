"""The process that decodes clips for the bot (`model.video.decoded_frames` starts it and talks to
it): `python -m model.clip_process`, a fork server. It imports FFmpeg once; each clip is decoded
in a process forked from it for that clip alone, which exits when the clip is done.

Before it imports anything it limits itself, and so every process forked from it: its address
space (MEMORY_BYTES), its open files, no file written, no core dump; and it runs at a lower
priority than the bot, so photos get the cores first. Each clip's process also gets a CPU limit
(CPU_LIMIT_SECONDS, a backstop to the decoder's own CPU_SECONDS) and a wall-clock alarm. Whatever a
hostile container makes FFmpeg allocate, it allocates there, and that process dies with it; the
server never touches a clip but to hand it over.

Every message, both ways, is records: a tag byte, a 4-byte big-endian length, the payload. To the
server: `C` a clip (a header of 8 bytes, the frames wanted and the wall-clock milliseconds
allowed, then the clip). From it: `R` what the clip's process wrote (its own records: `F` a frame,
an `.npy` array, RGB; `E` a refusal, JSON: the ClipError's class name, its message template and
values), then `S` how it ended (JSON: its exit code, negative for a signal). Nothing else is
written to the standard output.
"""

from __future__ import annotations

import os
import resource
import signal
import struct
import sys
from typing import BinaryIO

MEMORY_BYTES = 1024 * 1024 * 1024
"""The address space of the server and of each clip's process. Python, NumPy and PyAV map 215 MB
of it (58 MB resident); a full HD clip's decoding about 100 MB more, 300 full HD tracks 470."""
CPU_LIMIT_SECONDS = 8
"""Past this the kernel stops a clip's process (SIGXCPU, then SIGKILL a second later)."""
OPEN_FILES = 32
NICENESS = 10
MAX_OUTPUT_BYTES = 64 * 1024 * 1024
"""What one clip's process may send back: eight frames take at most 10 MB."""


def limit_self() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.nice(NICENESS)


def write_record(out: BinaryIO, tag: bytes, payload: bytes) -> None:
    out.write(tag + struct.pack(">I", len(payload)) + payload)


def read_exactly(source: BinaryIO, size: int) -> bytes | None:
    data = source.read(size)
    return data if data is not None and len(data) == size else None


def main() -> int:
    limit_self()
    import json

    import av  # noqa: F401  FFmpeg's libraries, loaded once for every clip's process

    from model.video import sample_frames  # noqa: F401  NumPy and the decoding code, likewise

    source, out = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = read_exactly(source, 5)
        if head is None:
            return 0  # the bot closed the pipe: it has stopped
        (size,) = struct.unpack(">I", head[1:])
        payload = read_exactly(source, size)
        if head[:1] != b"C" or payload is None or size < 8:
            return 1
        count, milliseconds = struct.unpack(">II", payload[:8])
        output, exit_code = decode_in_a_process(payload[8:], count, milliseconds / 1000)
        del payload
        write_record(out, b"R", output)
        write_record(out, b"S", json.dumps({"exit": exit_code}).encode())
        out.flush()


def decode_in_a_process(data: bytes, count: int, seconds: float) -> tuple[bytes, int]:
    """What a process forked for this clip wrote, and its exit code."""
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # the clip's process: it never returns from here
        code = 70
        try:
            os.close(reading)
            os.close(0)  # the server's pipes to the bot: only the server speaks there
            os.close(1)
            resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT_SECONDS, CPU_LIMIT_SECONDS + 1))
            signal.setitimer(signal.ITIMER_REAL, seconds)  # SIGALRM ends it
            with os.fdopen(writing, "wb") as sink:
                decode(data, count, sink)
            code = 0
        finally:
            os._exit(code)
    os.close(writing)
    chunks: list[bytes] = []
    total = 0
    with os.fdopen(reading, "rb") as pipe:
        while chunk := pipe.read(1 << 16):
            total += len(chunk)
            if total <= MAX_OUTPUT_BYTES:
                chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return (b"".join(chunks) if total <= MAX_OUTPUT_BYTES else b""), code if total <= MAX_OUTPUT_BYTES else 71


def decode(data: bytes, count: int, sink: BinaryIO) -> None:
    import io
    import json

    import numpy as np

    from model.video import ClipError, sample_frames

    try:
        for frame in sample_frames(data, count):
            buffer = io.BytesIO()
            np.save(buffer, frame, allow_pickle=False)
            write_record(sink, b"F", buffer.getvalue())
    except ClipError as error:
        refusal = {"kind": type(error).__name__, "template": error.message.template, "values": error.message.values}
        write_record(sink, b"E", json.dumps(refusal).encode())


if __name__ == "__main__":
    raise SystemExit(main())
