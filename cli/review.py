"""From what users said to what the bot serves: `maskbot console`, `feedback review` and `export`, `retrain`
and the model registry's `models list`, `export`, `promote` and `rollback`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from datetime import date
from pathlib import Path

from bot.config import ConfigError
from cli.common import CommandError, open_storage, settings_without_token
from console.auth import load_token
from model import CLASS_NAMES
from model.predictor import read_metadata
from model.registry import open_registry
from storage.export import export_feedback
from storage.repository import FeedbackFilter
from training.dataset import default_cache_dir


def cmd_console(args: argparse.Namespace) -> int:
    settings = settings_without_token()
    try:
        token = load_token(os.environ)
    except ConfigError as error:
        raise CommandError(str(error), status=2) from error
    # The web server and the pages' modules load only when the console starts.
    from console.app import Console, serve

    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    with open_storage(settings) as (_, repository):
        asyncio.run(serve(Console(repository, settings.model_dir, token), args.host, args.port, args.behind_proxy))
    return 0


def cmd_feedback_review(args: argparse.Namespace) -> int:
    with open_storage(settings_without_token()) as (_, repository):
        changed = 0
        if args.accept:
            changed += repository.review(args.accept, "accepted")
        if args.reject:
            changed += repository.review(args.reject, "rejected")
        if args.accept_all:
            pending = repository.feedback_items(FeedbackFilter(status="pending", with_crop=True))
            changed += repository.review([item.feedback_id for item in pending], "accepted")
        if changed:
            print(f"updated {changed} feedback item(s)")
        items = repository.feedback_items(
            FeedbackFilter(
                status=args.status, with_crop=not args.without_crop, label=args.label, model_version=args.model
            )
        )
    print(f"{len(items)} {args.status} feedback item(s)" + ("" if args.without_crop else " with a shared crop"))
    print(f"{'id':>6} {'date':<11}{'model':<7}{'predicted':<23}{'confidence':>11}  {'user says':<23}crop KB")
    for item in items:
        says = item.label if not item.is_correct else f"{item.label} (right)"
        print(
            f"{item.feedback_id:>6} {item.created_at.date().isoformat():<11}{item.model_version:<7}"
            f"{item.predicted_label:<23}{item.confidence:>11.1%}  {says:<23}"
            f"{f'{len(item.crop) / 1024:.1f}' if item.crop is not None else '-'}"
        )
    if args.status == "pending" and items:
        print("accept or reject with: maskbot feedback review --accept ID ... --reject ID ...")
    return 0


def cmd_feedback_export(args: argparse.Namespace) -> int:
    with open_storage(settings_without_token()) as (_, repository):
        result = export_feedback(
            repository, Path(args.out), date.fromisoformat(args.since) if args.since else None, include_right=args.all
        )
    print(
        f"wrote {result.written} accepted crop(s) to {args.out} with manifest.csv; "
        f"{result.pending_skipped} still pending review were left out"
    )
    return 0


def cmd_retrain(args: argparse.Namespace) -> int:
    from training.retrain import retrain

    registry = open_registry(settings_without_token().model_dir)
    result = retrain(
        registry,
        Path(args.base),
        Path(args.feedback),
        [Path(d) for d in args.check],
        Path(args.cache) if args.cache else default_cache_dir(),
        from_scratch=args.from_scratch,
        epochs=args.epochs,
        force=args.force,
        tolerance=args.tolerance,
        say=lambda line: print(line, flush=True),
        more_data=[Path(d) for d in args.add_data],
    )
    print(f"\n{'set':<28}{'champion ' + result.champion:>18}{'challenger ' + result.challenger:>20}")
    for key in result.scores["champion"]:
        print(f"{key:<28}{result.scores['champion'][key]:>18.4f}{result.scores['challenger'][key]:>20.4f}")
    verdict = "PROMOTED" if result.promote else ("PROMOTED BY --force" if args.force else "REJECTED")
    print(f"\n{result.challenger}: {verdict}: " + "; ".join(result.reasons))
    print(f"champion is now {registry.champion()}; running bots pick it up on /reload or at the daily job")
    return 0 if result.promote or args.force else 3


def cmd_models_list(args: argparse.Namespace) -> int:
    registry = open_registry(settings_without_token().model_dir)
    print(f"{'version':<9}{'status':<11}{'created':<27}{'parameters':>11}{'test balanced acc':>19}")
    for info in registry.versions():
        accuracy = info.test_balanced_accuracy
        print(
            f"{info.name:<9}{info.status:<11}{info.metadata.get('created', '-'):<27}"
            f"{info.metadata.get('parameters', 0):>11,}{'-' if accuracy is None else f'{accuracy:.4f}':>19}"
        )
    return 0


def cmd_models_export(args: argparse.Namespace) -> int:
    from training.export import export_onnx

    for folder in args.folders:
        half_precision = read_metadata(folder).get("kernel_precision") == "float16"
        print(f"wrote {export_onnx(Path(folder), half_precision)}")
    return 0


def cmd_models_promote(args: argparse.Namespace) -> int:
    registry = open_registry(settings_without_token().model_dir)
    registry.promote(args.version, f"promoted by hand: {args.reason}", forced=True)
    print(f"champion is now {registry.champion()}")
    return 0


def cmd_models_rollback(args: argparse.Namespace) -> int:
    registry = open_registry(settings_without_token().model_dir)
    print(f"rolled back: champion is now {registry.rollback()}")
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    console = commands.add_parser(
        "console", help="serve the operator console: review crops, drift, models (needs CONSOLE_TOKEN)"
    )
    console.add_argument("--port", type=int, default=8090)
    console.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    console.add_argument(
        "--behind-proxy",
        action="store_true",
        help="trust X-Forwarded-For/-Proto from a TLS proxy in front (session cookies then marked Secure)",
    )
    console.set_defaults(handler=cmd_console)

    feedback = commands.add_parser("feedback", help="review and export user feedback for retraining")
    feedback_commands = feedback.add_subparsers(dest="feedback_command", required=True)
    review = feedback_commands.add_parser("review", help="list feedback by review status; accept or reject it")
    review.add_argument("--status", choices=["pending", "accepted", "rejected"], default="pending")
    review.add_argument("--accept", type=int, nargs="+", metavar="ID")
    review.add_argument("--reject", type=int, nargs="+", metavar="ID")
    review.add_argument("--accept-all", action="store_true", help="accept every pending item with a crop")
    review.add_argument("--without-crop", action="store_true", help="also list feedback without a shared crop")
    review.add_argument("--label", choices=CLASS_NAMES, help="only items the user labelled so")
    review.add_argument("--model", metavar="VERSION", help="only items answered by this model version")
    review.set_defaults(handler=cmd_feedback_review)
    feedback_export = feedback_commands.add_parser("export", help="write accepted crops as OUT_DIR/<label>/<id>.png")
    feedback_export.add_argument("out")
    feedback_export.add_argument("--since", help="YYYY-MM-DD")
    feedback_export.add_argument("--all", action="store_true", help="also crops of answers users marked right")
    feedback_export.set_defaults(handler=cmd_feedback_export)

    retrain = commands.add_parser("retrain", help="train a challenger on base data plus feedback, gate, promote")
    retrain.add_argument("--base", required=True, help="the champion's training folder")
    retrain.add_argument(
        "--add-data",
        action="append",
        default=[],
        metavar="DIR",
        help="another folder the champion trained on (ilc3 for the shipped v2; repeatable): "
        "the challenger trains on it too, and the gate scores its fixed test part",
    )
    retrain.add_argument("--feedback", required=True, help="a folder written by `maskbot feedback export`")
    retrain.add_argument("--check", action="append", default=[], help="an external folder the gate scores too")
    retrain.add_argument("--from-scratch", action="store_true", help="instead of fine-tuning the champion")
    retrain.add_argument("--epochs", type=int)
    retrain.add_argument("--tolerance", type=float, default=0.01, help="allowed drop on fixed tests (default 0.01)")
    retrain.add_argument("--force", action="store_true", help="promote even if the gate says no (logged)")
    retrain.add_argument("--cache")
    retrain.set_defaults(handler=cmd_retrain, extra="train")

    models = commands.add_parser("models", help="the model registry in MODEL_DIR")
    models_commands = models.add_subparsers(dest="models_command", required=True)
    models_commands.add_parser("list", help="versions, status and scores").set_defaults(handler=cmd_models_list)
    models_export = models_commands.add_parser(
        "export", help="write model.onnx (what the bot serves) beside a model folder's model.keras"
    )
    models_export.add_argument("folders", nargs="+", help="model folders")
    models_export.set_defaults(handler=cmd_models_export, extra="train")
    promote = models_commands.add_parser("promote", help="make a version the champion (logged as forced)")
    promote.add_argument("version")
    promote.add_argument("--reason", default="operator's decision")
    promote.set_defaults(handler=cmd_models_promote)
    models_commands.add_parser("rollback", help="back to the previous champion").set_defaults(
        handler=cmd_models_rollback
    )
