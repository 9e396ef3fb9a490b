"""Command line of the model package: ``python -m understudy_model train ...``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from understudy_model.data import DEFAULT_SEED
from understudy_model.difftest import DEFAULT_SAMPLE as DIFFTEST_SAMPLE
from understudy_model.difftest import DEFAULT_SEED as DIFFTEST_SEED
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


def _add_difftest(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "difftest",
        help="compare two prediction sources (artifact dirs or service URLs) on the same houses",
        description="Exits 0 when the share of records outside the tolerance is at most "
        "--max-mismatch-fraction and both sources answered; 1 otherwise.",
    )
    parser.add_argument("--reference", required=True, help="artifact directory or http(s) URL")
    parser.add_argument("--candidate", required=True, help="artifact directory or http(s) URL")
    parser.add_argument(
        "--payloads",
        type=Path,
        help='records to send: {"records": [...]}, a JSON list or JSON lines '
        "(default: a seeded sample of the Ames holdout set)",
    )
    parser.add_argument(
        "--sample",
        type=int,
        default=DIFFTEST_SAMPLE,
        help="holdout records to sample; 0 for all (default %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=DIFFTEST_SEED, help="sampling seed")
    parser.add_argument(
        "--rel-tol", type=float, default=1e-9, help="relative tolerance (default %(default)g)"
    )
    parser.add_argument(
        "--abs-tol", type=float, default=0.0, help="absolute tolerance in dollars (default 0)"
    )
    parser.add_argument(
        "--max-mismatch-fraction",
        type=float,
        default=0.0,
        help="share of records allowed outside the tolerance (default 0)",
    )
    parser.add_argument("--report", type=Path, help="write the JSON report here")
    parser.add_argument(
        "--path",
        choices=("reference", "fast"),
        default="reference",
        help="how artifact directories predict: the scikit-learn pipeline or the fast path",
    )
    parser.add_argument("--worst", type=int, default=10, help="worst cases to show")
    parser.set_defaults(func=_run_difftest)


def _run_difftest(args: argparse.Namespace) -> int:
    from understudy_common.compare import Tolerance
    from understudy_model import difftest

    records = (
        difftest.load_payloads(args.payloads)
        if args.payloads
        else difftest.holdout_sample(sample=args.sample or None, seed=args.seed)
    )
    report = difftest.run(
        reference=args.reference,
        candidate=args.candidate,
        records=records,
        tolerance=Tolerance(relative=args.rel_tol, absolute=args.abs_tol),
        max_mismatch_fraction=args.max_mismatch_fraction,
        path=args.path,
        worst=args.worst,
    )
    print(difftest.render_table(report))
    if args.report:
        difftest.write_report(report, args.report)
        print(f"report: {args.report}")
    return 0 if report.passed else 1


def _add_shift(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "shift",
        help="write a deliberately wrong candidate: a model shifted on one segment of houses",
        description="For demos and tests of the slice checks: the model of --base with its "
        "predictions multiplied by 1 + SHIFT where the segment holds (understudy_model.faults).",
    )
    parser.add_argument("--base", type=Path, required=True, help="artifact directory to wrap")
    parser.add_argument("--version", required=True, help="the new artifact's version")
    parser.add_argument("--out", type=Path, required=True, help="artifact directory to write")
    parser.add_argument("--shift", type=float, required=True, help="e.g. 0.2 for +20%%")
    segment = parser.add_mutually_exclusive_group(required=True)
    segment.add_argument("--above", type=float, help="segment: the model's prediction > dollars")
    segment.add_argument(
        "--where", metavar="FIELD=VALUE", help="segment: an input field equals a value"
    )
    parser.set_defaults(func=_run_shift)


def _run_shift(args: argparse.Namespace) -> int:
    from understudy_model.faults import write_segment_shift

    column, value = None, None
    if args.where is not None:
        column, _, value = args.where.partition("=")
        if not column or not value:
            print(f"--where needs FIELD=VALUE, got {args.where!r}", file=sys.stderr)
            return 2
    write_segment_shift(
        args.base,
        args.out,
        version=args.version,
        shift=args.shift,
        above=args.above,
        column=column,
        value=value,
    )
    print(f"{args.version}: {args.base} shifted {args.shift:+.0%} on one segment -> {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m understudy_model",
        description="Train, inspect and compare the Ames house-price models.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_difftest(sub)
    _add_shift(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
