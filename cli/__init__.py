"""The `maskbot` command line: every package's commands, one module per group.

Each module declares its commands' options beside their functions (`register`) and stops a command with
`CommandError`. What a command alone needs and costs time to load (the bot, the console's server, the
training modules, TensorFlow) is imported inside it, so `maskbot --help` stays quick and a serving
install, which has no TensorFlow, runs every command but those that need it.
"""

from __future__ import annotations

import argparse
import sys

from cli import data, modelling, records, review, run, watch
from cli.common import CommandError
from model.registry import RegistryError
from training.runtime import TrainingExtraMissing


def build_parser() -> argparse.ArgumentParser:
    """Every command, each with its `handler`; those that need the `train` extra (TensorFlow,
    OpenCV, cleanlab) also say `extra="train"`, which the README's table of commands marks."""
    parser = argparse.ArgumentParser(
        prog="maskbot", description="Face-mask checking bot: model, storage and bot tools."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    # In this order --help lists the commands.
    for group in (run, watch, modelling, records, data, review):
        group.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command `argv` (default: the process's arguments) names; returns its exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    # A command's own refusal; a serving-only install asked to train, export or bench; a promotion or
    # rollback refused (a version that cannot load, a stale champion): one line, no traceback.
    except (CommandError, TrainingExtraMissing, RegistryError) as error:
        print(f"maskbot: {error}", file=sys.stderr)
        return error.status if isinstance(error, CommandError) else 1
