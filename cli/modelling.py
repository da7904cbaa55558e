"""Making and measuring a model: `maskbot train`, `evaluate`, `predict` and `bench`."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from cli.common import CommandError, model_dir
from model.images import ImageError
from model.predictor import NoFaceFound, Predictor
from storage.write_speed import prediction_rows_per_second
from training.dataset import default_cache_dir

# The recipes and defaults --help shows; training.train loads TensorFlow only once a training starts.
from training.train import RECIPE_DEFAULTS, TrainConfig, train


def cmd_train(args: argparse.Namespace) -> int:
    config = TrainConfig(
        data_dir=Path(args.data),
        out_dir=Path(args.out),
        recipe=args.recipe,
        version=args.version,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
        split_file=Path(args.split) if args.split else None,
        per_class_limit=args.limit,
        more_data=[Path(d) for d in args.add_data],
        more_data_repeat=args.add_data_repeat,
        soup_of=[Path(d) for d in args.soup_of],
        synthetic_dirs=[Path(d) for d in args.synthetic],
        check_dirs=[Path(d) for d in args.check],
        cache_dir=Path(args.cache) if args.cache else default_cache_dir(),
        initial_weights=Path(args.start_from) / "model.keras" if args.start_from else None,
        class_offsets=args.class_offsets,
    )
    train(config, say=lambda line: print(line, flush=True))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from training.evaluate import (
        Misjudged,
        error_sheets,
        evaluate,
        evaluate_groups,
        evaluate_photos,
        evaluate_scenes,
        format_group_scores,
        format_scene_scores,
        format_scores,
    )

    if not args.data and not args.scenes:
        raise CommandError("name data folders to score, or --scenes with group photos")
    predictor = Predictor(model_dir(args))
    cache = Path(args.cache) if args.cache else default_cache_dir()
    # The whole photos are misjudged as their crops are: the sheets show the crops' mistakes.
    errors: list[Misjudged] | None = [] if args.errors else None
    results = {}
    for data_dir in args.data:
        results[Path(data_dir).name] = evaluate(predictor, Path(data_dir), cache, errors=errors)
        if not args.crops_only:
            results[f"{Path(data_dir).name}, whole photos"] = evaluate_photos(predictor, Path(data_dir))
    scenes = {}
    for scenes_dir in map(Path, args.scenes):
        # Scenes of a labelled folder (ilc3/scenes) are split as that folder's photos were.
        split_file = predictor.model_dir / f"split-{scenes_dir.resolve().parent.name}.json"
        scenes[f"{scenes_dir.parent.name}/{scenes_dir.name}"] = evaluate_scenes(
            predictor, scenes_dir, split_file, errors
        )
    groups = {}
    for groups_file in map(Path, args.groups):
        for data_dir in map(Path, args.data):
            with contextlib.suppress(ValueError):  # that file labels none of this folder's faces
                groups[f"{data_dir.name} by {groups_file.parent.name}/{groups_file.stem}"] = evaluate_groups(
                    predictor, data_dir, cache, groups_file, args.group_by or None
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
    if errors is not None:
        sheets = error_sheets(errors, Path(args.errors))
        print(f"\n{len(errors)} faces misjudged, in {len(sheets)} contact sheets in {args.errors}", file=sys.stderr)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from bot.replies import NOT_SURE, VERDICT

    predictor = Predictor(model_dir(args))
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


def cmd_bench(args: argparse.Namespace) -> int:
    from bot.judging import answer_photo
    from training.speed import run_benchmarks

    run_benchmarks(
        model_dir(args),
        baseline_dir=Path(args.baseline) if args.baseline else None,
        photos_dir=Path(args.photos) if args.photos else None,
        repeats=args.repeats,
        answer=answer_photo,
    )
    rates = sorted(prediction_rows_per_second() for _ in range(3))
    print(f"prediction log into SQLite, one transaction per row: {rates[1]:,.0f} rows/s (median of 3 runs)")
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    train.add_argument("--learning-rate", type=float, help="peak learning rate (default: the recipe's)")
    train.add_argument(
        "--start-from",
        metavar="MODEL_DIR",
        help="fine-tune this model folder's network (of the same recipe) instead of starting from ImageNet",
    )
    train.add_argument(
        "--no-class-offsets",
        dest="class_offsets",
        action="store_false",
        help="fit no per-class logit offsets for macro-F1 on the validation faces (they are fitted by default)",
    )
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
    train.set_defaults(handler=cmd_train, extra="train")

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
        help="faces labelled by group (docs/fairness/ilc3-test-groups.csv, or a data folder's manifest.csv such as "
        "utkface's): recall and bare faces misjudged per group, on the faces not trained on (repeatable)",
    )
    evaluate.add_argument(
        "--group-by",
        action="append",
        default=[],
        metavar="COLUMN",
        help="with --groups: only these columns of the CSV (repeatable; default: every column but file)",
    )
    evaluate.add_argument(
        "--errors",
        metavar="DIR",
        help="write one contact sheet per (truth, said) pair of the faces misjudged, <truth>-as-<said>.png",
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
    bench.set_defaults(handler=cmd_bench, extra="train")
