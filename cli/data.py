"""Training data folders: `maskbot data report` and `data synth`."""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

from training.dataset import default_cache_dir
from training.runtime import TrainingExtraMissing


def cmd_data_report(args: argparse.Namespace) -> int:
    from training.datareport import build_report

    started = time.time()
    report, _, _ = build_report(
        Path(args.data),
        Path(args.out),
        Path(args.compare) if args.compare else None,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(report.read_text())
    print(f"wrote {report} and its pictures in {time.time() - started:.0f} s", file=sys.stderr)
    return 0


def cmd_data_synth(args: argparse.Namespace) -> int:
    try:
        from training.synth import synthesise, training_photos
    except ImportError as error:  # OpenCV paints the masks; serving installs go without it
        raise TrainingExtraMissing(
            "this needs OpenCV, which serving does without: pip install 'maskbot[train]'"
        ) from error

    say = functools.partial(print, flush=True)
    bare, masked = training_photos(
        [Path(d) for d in args.data], Path(args.split_from) if args.split_from else None, args.seed, say
    )
    say(f"{len(bare)} bare training faces, {len(masked)} masked training photos for fabric")

    def progress(done: int, total: int) -> None:
        if done % 500 == 0:
            say(f"  {done}/{total} photos looked at")

    counts = synthesise(bare, masked, Path(args.out), seed=args.seed, limit=args.faces, progress=progress)
    say(f"wrote {args.out}: {counts}; look at {Path(args.out) / 'contact.jpg'} before training on it")
    return 0


def cmd_data_label_issues(args: argparse.Namespace) -> int:
    from training.runtime import import_tensorflow

    import_tensorflow()  # the ImageNet network; says so in one line on a serving install
    from training.labelissues import find_candidates, write_candidates

    say = functools.partial(print, file=sys.stderr, flush=True)
    candidates = find_candidates(
        [Path(d) for d in args.data], Path(args.cache) if args.cache else default_cache_dir(), say
    )
    write_candidates(candidates, Path(args.out))
    print(
        f"{len(candidates)} likely label errors in {Path(args.out) / 'candidates.csv'}, with contact sheets beside it"
    )
    print('record each decision in training/label_corrections.csv (docs/training.md, "Label errors")')
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    data = commands.add_parser("data", help="data folder tools")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    report = data_commands.add_parser("report", help="counts, sizes, duplicates, faces and contact sheets")
    report.add_argument("data", help="a folder with one sub-folder per class")
    report.add_argument("--out", default="data-report", help="folder for report.md, report.json and pictures")
    report.add_argument("--compare", help="a second folder: figures side by side, and images found in both")
    report.set_defaults(handler=cmd_data_report)

    synth = data_commands.add_parser("synth", help="paint masks onto bare training faces, both ways")
    synth.add_argument(
        "--data",
        action="append",
        required=True,
        metavar="DIR",
        help="labelled folders whose training-part bare faces are painted and whose "
        "with_mask photos give the fabric (repeatable, in training's order)",
    )
    synth.add_argument(
        "--split-from",
        metavar="MODEL_DIR",
        help="a model folder whose split files to follow (default: made as training makes them)",
    )
    synth.add_argument("--out", required=True, help="folder to write (class folders, manifest.csv, contact.jpg)")
    synth.add_argument("--faces", type=int, help="paint at most this many faces (each twice)")
    synth.add_argument("--seed", type=int, default=7)
    synth.set_defaults(handler=cmd_data_synth, extra="train")

    issues = data_commands.add_parser(
        "label-issues",
        help="rank likely label errors (out-of-fold probabilities, cleanlab) and draw them for review",
    )
    issues.add_argument("data", nargs="+", help="labelled folders (each split into folds by its source photos)")
    issues.add_argument("--out", default="label-issues", help="folder for candidates.csv and contact sheets")
    issues.add_argument("--cache", help="folder for cached arrays (default $MASKBOT_CACHE or .cache)")
    issues.set_defaults(handler=cmd_data_label_issues, extra="train")
