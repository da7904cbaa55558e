"""The `maskbot` command line. Heavy imports (TensorFlow) happen inside the commands that need them."""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import sys
from pathlib import Path


def _model_dir(args) -> Path:
    """--model, else $MODEL_DIR (a registry's champion), else the model shipped in the repository."""
    from model.registry import SHIPPED_MODEL, active_model_dir

    if args.model:
        return Path(args.model)
    if os.environ.get("MODEL_DIR"):
        return active_model_dir(Path(os.environ["MODEL_DIR"]))
    return SHIPPED_MODEL


def _settings():
    from bot.config import ConfigError, load_settings

    try:
        return load_settings(require_token=False)
    except ConfigError as error:
        sys.exit(f"maskbot: {error}")


def _storage(settings):
    from storage.database import Database
    from storage.repository import Repository

    database = Database(settings.database_url)
    return database, Repository(database, settings.crops_dir)


def _reference_mix(settings) -> dict | None:
    """The class mix the model was trained on: what daily summaries compare against."""
    from model.predictor import read_metadata
    from model.registry import active_model_dir

    return read_metadata(active_model_dir(settings.model_dir)).get("class_mix")


def cmd_run(args) -> int:
    from bot.config import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"maskbot: {error}", file=sys.stderr)
        return 2
    from bot.app import run

    return run(settings)


def cmd_train(args) -> int:
    from training.train import TrainConfig, train

    config = TrainConfig(
        data_dir=Path(args.data),
        out_dir=Path(args.out),
        recipe=args.recipe,
        version=args.version,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        split_file=Path(args.split) if args.split else None,
        per_class_limit=args.limit,
        more_data=[Path(d) for d in args.add_data],
        more_data_repeat=args.add_data_repeat,
        soup_of=[Path(d) for d in args.soup_of],
        synthetic_dirs=[Path(d) for d in args.synthetic],
        check_dirs=[Path(d) for d in args.check],
        **({"cache_dir": Path(args.cache)} if args.cache else {}),
    )
    train(config, say=lambda line: print(line, flush=True))
    return 0


def cmd_data_synth(args) -> int:
    from training.synth import synthesise, training_photos

    say = functools.partial(print, flush=True)
    bare, masked = training_photos(
        [Path(d) for d in args.data], Path(args.split_from) if args.split_from else None, args.seed, say
    )
    say(f"{len(bare)} bare training faces, {len(masked)} masked training photos for fabric")
    counts = synthesise(
        bare,
        masked,
        Path(args.out),
        seed=args.seed,
        limit=args.faces,
        progress=lambda done, total: done % 500 == 0 and say(f"  {done}/{total} photos looked at"),
    )
    say(f"wrote {args.out}: {counts}; look at {Path(args.out) / 'contact.jpg'} before training on it")
    return 0


def cmd_evaluate(args) -> int:
    from model.predictor import Predictor
    from training.dataset import default_cache_dir
    from training.evaluate import (
        evaluate,
        evaluate_groups,
        evaluate_photos,
        evaluate_scenes,
        format_group_scores,
        format_scene_scores,
        format_scores,
    )

    if not args.data and not args.scenes:
        sys.exit("maskbot: name data folders to score, or --scenes with group photos")
    predictor = Predictor(_model_dir(args))
    cache = Path(args.cache) if args.cache else default_cache_dir()
    results = {}
    for data_dir in args.data:
        results[Path(data_dir).name] = evaluate(predictor, Path(data_dir), cache)
        if not args.crops_only:
            results[f"{Path(data_dir).name}, whole photos"] = evaluate_photos(predictor, Path(data_dir))
    scenes = {}
    for scenes_dir in map(Path, args.scenes):
        # Scenes of a labelled folder (ilc3/scenes) are split as that folder's photos were.
        split_file = predictor.model_dir / f"split-{scenes_dir.resolve().parent.name}.json"
        scenes[f"{scenes_dir.parent.name}/{scenes_dir.name}"] = evaluate_scenes(predictor, scenes_dir, split_file)
    groups = {}
    for groups_file in map(Path, args.groups):
        for data_dir in map(Path, args.data):
            with contextlib.suppress(ValueError):  # that file labels none of this folder's faces
                groups[f"{data_dir.name} by {groups_file.stem}"] = evaluate_groups(
                    predictor, data_dir, cache, groups_file
                )
    if args.json:
        print(
            json.dumps(
                {"model_version": predictor.version, "results": results, "scenes": scenes, "groups": groups}, indent=2
            )
        )
    else:
        print(f"model {predictor.version} ({predictor.metadata['architecture']}) from {predictor.model_dir}\n")
        printed = [format_scores(name, scores) for name, scores in results.items()]
        printed += [format_scene_scores(name, scores) for name, scores in scenes.items()]
        printed += [format_group_scores(name, scores) for name, scores in groups.items()]
        print("\n\n".join(printed))
    return 0


def cmd_predict(args) -> int:
    from bot.replies import NOT_SURE, VERDICT
    from model.images import ImageError
    from model.predictor import NoFaceFound, Predictor

    predictor = Predictor(_model_dir(args))
    failures = 0
    outputs = []
    for image in args.images:
        try:
            prediction = predictor.predict(Path(image))
        except (ImageError, FileNotFoundError) as error:
            failures += 1
            tips = error.framing.tips if isinstance(error, NoFaceFound) else ()
            outputs.append({"image": image, "error": "\n".join([str(error), *(f"• {tip}" for tip in tips)])})
            continue
        outputs.append({"image": image, **prediction.as_dict()})
    if args.json:
        print(json.dumps(outputs, indent=2))
    else:
        for output in outputs:
            if "error" in output:
                print(f"{output['image']}: error: {output['error']}")
                continue
            verdict = NOT_SURE if output["unsure"] else VERDICT[output["label"]][1]
            probabilities = "  ".join(f"{name} {value:.3f}" for name, value in output["probabilities"].items())
            print(f"{output['image']}: {verdict} ({output['label']}, {output['confidence']:.1%})\n  {probabilities}")
            for tip in output["tips"]:
                print(f"  tip: {tip}")
    return 1 if failures else 0


def cmd_bench(args) -> int:
    from bot.drawing import annotate
    from bot.service import encode_png
    from storage.bench import prediction_rows_per_second
    from training.bench import run_benchmarks

    def group_reply(photo) -> None:
        """What the bot does with a group photo's verdicts in the inference thread."""
        [encode_png(prediction.pixels) for prediction in photo.faces]
        annotate(photo)

    run_benchmarks(
        _model_dir(args),
        baseline_dir=Path(args.baseline) if args.baseline else None,
        photos_dir=Path(args.photos) if args.photos else None,
        repeats=args.repeats,
        group_reply=group_reply,
    )
    rates = sorted(prediction_rows_per_second() for _ in range(3))
    print(f"prediction log into SQLite, one transaction per row: {rates[1]:,.0f} rows/s (median of 3 runs)")
    return 0


def cmd_stats(args) -> int:
    settings = _settings()
    database, repository = _storage(settings)
    stats = repository.recent_stats(args.days)
    database.dispose()
    if args.json:
        print(json.dumps(stats.as_dict(), indent=2))
        return 0
    print(f"{stats.start} to {stats.end}: photos {stats.photos}, faces judged {stats.count}")
    for name, value in stats.per_class.items():
        share = f"{value / stats.count:.1%}" if stats.count else "-"
        print(f"  {name:<24}{value:>8}  {share:>7}")
    unsure = f"{stats.unsure_share:.1%}" if stats.unsure_share is not None else "-"
    disagreement = f"{stats.disagreement_rate:.1%}" if stats.disagreement_rate is not None else "-"
    print(f"  unsure {unsure}, feedback {stats.feedback} (marked wrong {disagreement})")
    for row in stats.per_day:
        print(f"  {row.day} model {row.model_version}: {row.count} faces, drift {row.drift_level}")
    return 0


def cmd_summarise(args) -> int:
    from datetime import date

    from storage import summaries

    settings = _settings()
    database, _ = _storage(settings)
    reference = _reference_mix(settings)
    if args.catch_up:
        days = summaries.catch_up(database, reference=reference)
        print(f"summarised {len(days)} day(s): {', '.join(d.isoformat() for d in days) or 'none missing'}")
    else:
        day = date.fromisoformat(args.day) if args.day else None
        if day is None:
            from datetime import timedelta

            from storage.repository import utc_now

            day = utc_now().date() - timedelta(days=1)
        rows = summaries.summarise(database, day, reference)
        for row in rows:
            print(
                f"{row.day} model {row.model_version}: {row.count} photos, drift {row.drift_level}"
                + (f" (PSI {row.psi:.3f}, p {row.chi2_p_value:.3g})" if row.psi is not None else "")
            )
        if not rows:
            print(f"{day}: no predictions")
    database.dispose()
    return 0


def cmd_forget(args) -> int:
    from storage.pseudonyms import Pseudonymizer, load_secret

    settings = _settings()
    database, repository = _storage(settings)
    forgotten = repository.forget_user(Pseudonymizer(load_secret(settings.data_dir, settings.secret))(args.user_id))
    database.dispose()
    print(f"deleted {forgotten.predictions} predictions, {forgotten.feedback} feedback rows, {forgotten.crops} crops")
    return 0


def cmd_purge(args) -> int:
    settings = _settings()
    database, repository = _storage(settings)
    days = args.days if args.days is not None else settings.retention_days
    purged = repository.purge_older_than(days)
    database.dispose()
    print(
        f"older than {days} days: deleted {purged.predictions} predictions, {purged.feedback} feedback rows, "
        f"{purged.crops} crops"
    )
    return 0


def cmd_db_upgrade(args) -> int:
    from storage.database import current_revision

    settings = _settings()
    database, _ = _storage(settings)
    print(f"database at revision {current_revision(database.engine)}")
    database.dispose()
    return 0


def cmd_data_report(args) -> int:
    import time

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


def _registry(settings):
    from model.registry import RegistryError, open_registry

    try:
        return open_registry(settings.model_dir)
    except RegistryError as error:
        sys.exit(f"maskbot: {error}")


def cmd_feedback_review(args) -> int:
    from storage.repository import FeedbackFilter

    settings = _settings()
    database, repository = _storage(settings)
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
        FeedbackFilter(status=args.status, with_crop=not args.without_crop, label=args.label, model_version=args.model)
    )
    database.dispose()
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


def cmd_feedback_export(args) -> int:
    from datetime import date

    from storage.export import export_feedback

    settings = _settings()
    database, repository = _storage(settings)
    result = export_feedback(
        repository, Path(args.out), date.fromisoformat(args.since) if args.since else None, include_right=args.all
    )
    database.dispose()
    print(
        f"wrote {result.written} accepted crop(s) to {args.out} with manifest.csv; "
        f"{result.pending_skipped} still pending review were left out"
    )
    if result.missing_crops:
        print(f"warning: {result.missing_crops} accepted item(s) had no crop file on disk")
    return 0


def cmd_retrain(args) -> int:
    from training.dataset import default_cache_dir
    from training.retrain import retrain

    settings = _settings()
    registry = _registry(settings)
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


def cmd_models_export(args) -> int:
    from model.predictor import read_metadata
    from training.export import export_onnx

    for folder in args.folders:
        half_precision = read_metadata(folder).get("kernel_precision") == "float16"
        print(f"wrote {export_onnx(Path(folder), half_precision)}")
    return 0


def cmd_models_list(args) -> int:
    registry = _registry(_settings())
    print(f"{'version':<9}{'status':<11}{'created':<27}{'parameters':>11}{'test balanced acc':>19}")
    for info in registry.versions():
        accuracy = info.test_balanced_accuracy
        print(
            f"{info.name:<9}{info.status:<11}{info.metadata.get('created', '-'):<27}"
            f"{info.metadata.get('parameters', 0):>11,}{'-' if accuracy is None else f'{accuracy:.4f}':>19}"
        )
    return 0


def cmd_models_promote(args) -> int:
    registry = _registry(_settings())
    registry.promote(args.version, f"promoted by hand: {args.reason}", forced=True)
    print(f"champion is now {registry.champion()}")
    return 0


def cmd_models_rollback(args) -> int:
    registry = _registry(_settings())
    print(f"rolled back: champion is now {registry.rollback()}")
    return 0


def cmd_console(args) -> int:
    import asyncio
    import logging

    from bot.config import ConfigError
    from console.auth import load_token

    settings = _settings()
    try:
        token = load_token(os.environ)
    except ConfigError as error:
        print(f"maskbot: {error}", file=sys.stderr)
        return 2
    from console.app import Console, serve

    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    database, repository = _storage(settings)
    try:
        asyncio.run(serve(Console(repository, settings.model_dir, token), args.host, args.port, args.behind_proxy))
    finally:
        database.dispose()
    return 0


def build_parser() -> argparse.ArgumentParser:
    from storage.repository import CLASS_NAMES
    from training.train import RECIPE_DEFAULTS, TrainConfig

    parser = argparse.ArgumentParser(
        prog="maskbot", description="Face-mask checking bot: model, storage and bot tools."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="start the bot (long polling, or a webhook when WEBHOOK_URL is set)")
    run.set_defaults(handler=cmd_run)

    train = commands.add_parser("train", help="train a model and write a versioned model folder")
    train.add_argument("--data", required=True, help="training folder with one sub-folder per class")
    train.add_argument("--out", required=True, help="model folder to write")
    train.add_argument(
        "--recipe",
        choices=list(RECIPE_DEFAULTS),
        default=TrainConfig.recipe,
        help="pretrained: v3, EfficientNet-Lite0 fine-tuned from ImageNet (default); maskbot: v1 and v2's CNN "
        "from scratch; report: the university report's baseline",
    )
    train.add_argument("--version", default="1")
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--seed", type=int, default=7)
    train.add_argument(
        "--add-data",
        action="append",
        default=[],
        metavar="DIR",
        help="another labelled folder to train on, split by its source photos (repeatable); "
        "the last one's validation part calibrates the model",
    )
    train.add_argument(
        "--add-data-repeat",
        type=int,
        default=TrainConfig.more_data_repeat,
        metavar="N",
        help="how many times each --add-data training image is seen per epoch (default: %(default)s)",
    )
    train.add_argument(
        "--soup-of",
        action="append",
        default=[],
        metavar="MODEL_DIR",
        help="instead of training, average these model folders' networks (fine-tuned from the same ImageNet "
        "weights), then calibrate, score and write the result as a training does (repeatable)",
    )
    train.add_argument(
        "--synthetic",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder written by `maskbot data synth`, for training only (repeatable)",
    )
    train.add_argument(
        "--split",
        help="a split.json to reuse, so the test list stays fixed; "
        "split-<folder>.json files beside it are reused for --add-data folders",
    )
    train.add_argument("--limit", type=int, help="at most this many images per class and part (quick runs)")
    train.add_argument("--check", action="append", default=[], help="also score on this folder (repeatable)")
    train.add_argument("--cache", help="folder for cached arrays (default $MASKBOT_CACHE or .cache)")
    train.set_defaults(handler=cmd_train)

    evaluate = commands.add_parser("evaluate", help="score a model on labelled folders")
    evaluate.add_argument("data", nargs="*", help="data folders")
    evaluate.add_argument(
        "--scenes",
        action="append",
        default=[],
        help="a folder of group photos with boxes.csv (ilc3/scenes): faces found and per-face verdicts (repeatable)",
    )
    evaluate.add_argument(
        "--groups",
        action="append",
        default=[],
        metavar="CSV",
        help="faces labelled by group (docs/fairness/ilc3-test-groups.csv): recall per group (repeatable)",
    )
    evaluate.add_argument("--model", help="model folder (default $MODEL_DIR or the shipped model)")
    evaluate.add_argument("--cache")
    evaluate.add_argument("--json", action="store_true")
    evaluate.add_argument(
        "--crops-only",
        action="store_true",
        help="score the cached face crops only, not also each photo through the bot's path",
    )
    evaluate.set_defaults(handler=cmd_evaluate)

    predict = commands.add_parser("predict", help="classify photos and print tips")
    predict.add_argument("images", nargs="+")
    predict.add_argument("--model")
    predict.add_argument("--json", action="store_true")
    predict.set_defaults(handler=cmd_predict)

    bench = commands.add_parser("bench", help="measure inference speed")
    bench.add_argument("--model")
    bench.add_argument("--baseline", help="a model folder of the report's network, timed for the ratio")
    bench.add_argument("--photos", help="folder of photos for the whole-path timing (default: generated)")
    bench.add_argument("--repeats", type=int, default=200)
    bench.set_defaults(handler=cmd_bench)

    stats = commands.add_parser("stats", help="prediction counts, feedback and drift for recent days")
    stats.add_argument("--days", type=int, default=7)
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(handler=cmd_stats)

    summarise = commands.add_parser("summarise", help="compute daily summaries (default: yesterday, UTC)")
    when = summarise.add_mutually_exclusive_group()
    when.add_argument("--day", help="YYYY-MM-DD")
    when.add_argument("--catch-up", action="store_true", help="every day missing since the last summary")
    summarise.set_defaults(handler=cmd_summarise)

    forget = commands.add_parser("forget", help="delete everything stored about one Telegram user")
    forget.add_argument("user_id", type=int)
    forget.set_defaults(handler=cmd_forget)

    purge = commands.add_parser("purge", help="delete predictions older than the retention period")
    purge.add_argument("--days", type=int, help="default: $RETENTION_DAYS or 90")
    purge.set_defaults(handler=cmd_purge)

    database = commands.add_parser("db", help="database maintenance")
    database_commands = database.add_subparsers(dest="db_command", required=True)
    database_commands.add_parser("upgrade", help="apply pending migrations").set_defaults(handler=cmd_db_upgrade)

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
    synth.set_defaults(handler=cmd_data_synth)

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
    export = feedback_commands.add_parser("export", help="write accepted crops as OUT_DIR/<label>/<id>.png")
    export.add_argument("out")
    export.add_argument("--since", help="YYYY-MM-DD")
    export.add_argument("--all", action="store_true", help="also crops of answers users marked right")
    export.set_defaults(handler=cmd_feedback_export)

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
    retrain.set_defaults(handler=cmd_retrain)

    models = commands.add_parser("models", help="the model registry in MODEL_DIR")
    models_commands = models.add_subparsers(dest="models_command", required=True)
    models_commands.add_parser("list", help="versions, status and scores").set_defaults(handler=cmd_models_list)
    export = models_commands.add_parser(
        "export", help="write model.onnx (what the bot serves) beside a model folder's model.keras"
    )
    export.add_argument("folders", nargs="+", help="model folders")
    export.set_defaults(handler=cmd_models_export)
    promote = models_commands.add_parser("promote", help="make a version the champion (logged as forced)")
    promote.add_argument("version")
    promote.add_argument("--reason", default="operator's decision")
    promote.set_defaults(handler=cmd_models_promote)
    models_commands.add_parser("rollback", help="back to the previous champion").set_defaults(
        handler=cmd_models_rollback
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    from model.registry import RegistryError
    from training.runtime import TrainingExtraMissing

    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    # A serving-only install asked to train, export or bench; a promotion or rollback refused (a
    # version that cannot load, a stale champion): one line, no traceback.
    except (TrainingExtraMissing, RegistryError) as error:
        sys.exit(f"maskbot: {error}")


if __name__ == "__main__":
    sys.exit(main())
