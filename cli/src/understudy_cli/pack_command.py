"""``understudy model pack``: its command line (the work is ``understudy_model.pack``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_model(sub: argparse._SubParsersAction) -> None:
    model = sub.add_parser("model", help="package your own model for serving and shadowing")
    model_sub = model.add_subparsers(dest="model_command", required=True)
    pack = model_sub.add_parser(
        "pack",
        help="a fitted scikit-learn pipeline + a sample of its inputs -> an artifact directory",
        description=(
            "Writes model.joblib + model.json (the artifact format model-api serves): the "
            "feature schema inferred from --sample (edit model.json's feature_schema to "
            "tighten it), metrics on the sample with --target, and a drift reference. "
            "Exit 0 packed, 2 a pipeline, sample or option that cannot be packed."
        ),
    )
    pack.add_argument(
        "--pipeline", type=Path, required=True, help="the fitted pipeline (joblib.dump)"
    )
    pack.add_argument(
        "--sample",
        type=Path,
        required=True,
        help="records like those it will be asked about (.csv or .parquet), ideally a holdout set",
    )
    pack.add_argument("--name", required=True, help="the model's name, e.g. churn")
    pack.add_argument("--version", required=True, help="this version, e.g. 1.0.0")
    pack.add_argument("--task", choices=["regression", "classification"], required=True)
    pack.add_argument("--target", help="the sample's column of true values: metrics on it")
    pack.add_argument(
        "--positive-class",
        help="classification: the class whose probability the histograms and distribution "
        "checks follow (default: the last of the pipeline's classes_)",
    )
    pack.add_argument("--out", type=Path, required=True, help="artifact directory to write")
    pack.set_defaults(func=_run_pack)
    example = model_sub.add_parser(
        "example",
        help="write the breast-cancer example's fitted pipelines and holdout CSV, to pack",
        description="Three fitted scikit-learn pipelines (v1.joblib, v2.joblib, bad.joblib) "
        "and holdout.csv, from scikit-learn's bundled breast-cancer data (no download): "
        "what a data scientist brings to `understudy model pack`.",
    )
    example.add_argument("name", choices=["breast-cancer"])
    example.add_argument("--out", type=Path, required=True, help="directory to write")
    example.set_defaults(func=_run_example)


def _run_example(args: argparse.Namespace) -> int:
    from understudy_cli.examples.breast_cancer import write_pipelines

    files = write_pipelines(args.out)
    print(f"wrote {files.v1}, {files.v2}, {files.bad} and {files.holdout}")
    return 0


def _run_pack(args: argparse.Namespace) -> int:
    from understudy_cli.exits import EXIT_USAGE
    from understudy_model.pack import PackError, pack

    try:
        result = pack(
            pipeline_path=args.pipeline,
            sample_path=args.sample,
            name=args.name,
            version=args.version,
            task_kind=args.task,
            target=args.target,
            positive_class=args.positive_class,
            out_dir=args.out,
        )
    except PackError as exc:
        print(f"understudy model pack: {exc}", file=sys.stderr)
        return EXIT_USAGE
    meta = result.metadata
    fields = meta["feature_schema"]["fields"]
    metrics = meta["metrics"].get("holdout", {})
    shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()) or "no --target: no metrics"
    print(
        f"packed {meta['name']} {meta['version']} ({meta['algorithm']}, {meta['task']['kind']}): "
        f"{len(fields)} fields from {meta['data']['rows_sample']} sample rows; {shown} "
        f"-> {result.out_dir}"
    )
    return 0
