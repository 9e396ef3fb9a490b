"""Command line of the model package: ``python -m understudy_model train ...``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from understudy_model.data import DEFAULT_SEED
from understudy_model.pipeline import ALGORITHMS


def _add_train(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("train", help="train one model version and write its artifact")
    parser.add_argument(
        "--algorithm",
        choices=ALGORITHMS,
        required=True,
        help="linear: ridge on log price (v1); gbr: gradient boosting (v2)",
    )
    parser.add_argument("--version", required=True, help="model version, e.g. 1.0.0")
    parser.add_argument("--out", type=Path, required=True, help="artifact directory to write")
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help="seed of the split and of the model (default %(default)s)",
    )
    parser.add_argument(
        "--shuffle-target",
        action="store_true",
        help="train on shuffled prices: a deliberately bad model for rollback demos and tests",
    )
    parser.set_defaults(func=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    from understudy_model.train import train

    result = train(
        algorithm=args.algorithm,
        version=args.version,
        out_dir=args.out,
        seed=args.seed,
        shuffle_target=args.shuffle_target,
    )
    m = result.metadata["metrics"]["holdout"]
    print(
        f"{result.metadata['name']} {args.version} ({args.algorithm}): holdout "
        f"RMSE ${m['rmse']:,.0f}  MAE ${m['mae']:,.0f}  R² {m['r2']:.3f}  "
        f"trained in {result.seconds:.1f}s -> {args.out}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m understudy_model",
        description="Train, inspect and compare the Ames house-price models.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
