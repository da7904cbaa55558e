"""The `maskbot` command line. Heavy imports (TensorFlow) happen inside the commands that need them."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "v1"


def _model_dir(args) -> Path:
    return Path(args.model or os.environ.get("MODEL_DIR") or DEFAULT_MODEL_DIR)


def cmd_train(args) -> int:
    from model.train import TrainConfig, train

    config = TrainConfig(
        data_dir=Path(args.data), out_dir=Path(args.out), recipe=args.recipe, version=args.version,
        epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
        split_file=Path(args.split) if args.split else None, per_class_limit=args.limit,
        check_dirs=[Path(d) for d in args.check],
        **({"cache_dir": Path(args.cache)} if args.cache else {}),
    )
    train(config, say=lambda line: print(line, flush=True))
    return 0


def cmd_evaluate(args) -> int:
    from model.evaluate import default_cache_dir, evaluate, format_scores
    from model.predictor import Predictor

    predictor = Predictor(_model_dir(args))
    cache = Path(args.cache) if args.cache else default_cache_dir()
    results = {}
    for data_dir in args.data:
        results[Path(data_dir).name] = evaluate(predictor, Path(data_dir), cache)
    if args.json:
        print(json.dumps({"model_version": predictor.version, "results": results}, indent=2))
    else:
        print(f"model {predictor.version} ({predictor.metadata['architecture']}) from {predictor.model_dir}\n")
        print("\n\n".join(format_scores(name, scores) for name, scores in results.items()))
    return 0


def cmd_predict(args) -> int:
    from model.images import ImageError
    from model.predictor import LABEL_TEXT, Predictor

    predictor = Predictor(_model_dir(args))
    failures = 0
    outputs = []
    for image in args.images:
        try:
            prediction = predictor.predict(Path(image))
        except (ImageError, FileNotFoundError) as error:
            failures += 1
            outputs.append({"image": image, "error": str(error)})
            continue
        outputs.append({"image": image, **prediction.as_dict()})
    if args.json:
        print(json.dumps(outputs, indent=2))
    else:
        for output in outputs:
            if "error" in output:
                print(f"{output['image']}: error: {output['error']}")
                continue
            verdict = "Not sure" if output["unsure"] else LABEL_TEXT[output["label"]]
            probabilities = "  ".join(f"{name} {value:.3f}" for name, value in output["probabilities"].items())
            print(f"{output['image']}: {verdict} ({output['label']}, {output['confidence']:.1%})\n  {probabilities}")
            for tip in output["tips"]:
                print(f"  tip: {tip}")
    return 1 if failures else 0


def cmd_bench(args) -> int:
    from model.bench import run_benchmarks

    run_benchmarks(_model_dir(args), baseline_dir=Path(args.baseline) if args.baseline else None,
                   photos_dir=Path(args.photos) if args.photos else None, repeats=args.repeats)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="maskbot", description="Face-mask checking bot: model, storage and bot tools.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model and write a versioned model folder")
    train.add_argument("--data", required=True, help="training folder with one sub-folder per class")
    train.add_argument("--out", required=True, help="model folder to write")
    train.add_argument("--recipe", choices=["maskbot", "report"], default="maskbot")
    train.add_argument("--version", default="1")
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--seed", type=int, default=7)
    train.add_argument("--split", help="a split.json to reuse, so the test list stays fixed")
    train.add_argument("--limit", type=int, help="at most this many images per class and part (quick runs)")
    train.add_argument("--check", action="append", default=[], help="also score on this folder (repeatable)")
    train.add_argument("--cache", help="folder for cached arrays (default $MASKBOT_CACHE or .cache)")
    train.set_defaults(handler=cmd_train)

    evaluate = commands.add_parser("evaluate", help="score a model on labelled folders")
    evaluate.add_argument("data", nargs="+", help="data folders")
    evaluate.add_argument("--model", help="model folder (default $MODEL_DIR or the shipped model)")
    evaluate.add_argument("--cache")
    evaluate.add_argument("--json", action="store_true")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
