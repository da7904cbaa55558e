"""`maskbot watch`: a camera's people counted by verdict (docs/cameras.md)."""

from __future__ import annotations

import argparse

from bot.config import ConfigError
from camera.config import check_name, load_watch_settings
from cli.common import CommandError


def cmd_watch(args: argparse.Namespace) -> int:
    try:
        settings = load_watch_settings()
        name = check_name(args.name)
    except ConfigError as error:
        raise CommandError(str(error), status=2) from error
    # PyAV, ONNX Runtime and python-telegram-bot load only when a watch starts.
    from bot.app import configure_logging
    from camera.run import LiveViewError, watch

    configure_logging(settings.bot.log_level, settings.bot.bot_token)

    try:
        outcome = watch(args.source, name, settings)
    except LiveViewError as error:
        raise CommandError(str(error)) from error
    if outcome.failure is not None:
        raise CommandError(str(outcome.failure))
    counted = ", ".join(f"{count} {label}" for label, count in sorted(outcome.counted.items())) or "nobody"
    print(
        f"camera {name}: {sum(outcome.counted.values())} people counted ({counted}) in {outcome.frames} frames judged"
    )
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    watch = commands.add_parser(
        "watch",
        help="count a camera's people by verdict: a video file, rtsp://, http(s):// (MJPEG) or /dev/video0",
        description="Watch a camera (or check a recording): faces found, followed and judged, people counted "
        "per minute into the database. A file is read once; a stream is watched until SIGTERM.",
    )
    watch.add_argument("source", help="a video file, an rtsp:// or http(s):// stream, or a device like /dev/video0")
    watch.add_argument("--name", required=True, help="the camera's name, as admins and the console show it")
    watch.set_defaults(handler=cmd_watch)
