"""``understudy shadow --live DIR --candidate DIR --traffic FILE``: its command line."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_shadow(sub: argparse._SubParsersAction) -> None:
    from understudy_cli.exits import (
        EXIT_INTERRUPTED,
        EXIT_NO_DECISION,
        EXIT_PROMOTED,
        EXIT_ROLLED_BACK,
        EXIT_START_FAILED,
        EXIT_USAGE,
    )
    from understudy_cli.options import add_local_run_options

    parser = sub.add_parser(
        "shadow",
        help="shadow your candidate artifact beside your live one on your own traffic",
        description=(
            "The demo's local rollout on your artifacts (understudy model pack): model-api "
            "processes for --live and --candidate, the shadow router, the operator's "
            "decision core, and your requests replayed through the router. "
            f"Exit codes: {EXIT_PROMOTED} promoted, {EXIT_ROLLED_BACK} rolled back, "
            f"{EXIT_USAGE} bad usage, config, artifacts or traffic file, {EXIT_NO_DECISION} "
            f"no decision, {EXIT_START_FAILED} a process failed to start, "
            f"{EXIT_INTERRUPTED} interrupted."
        ),
    )
    parser.add_argument("--live", type=Path, required=True, help="the live model's artifact dir")
    parser.add_argument(
        "--candidate", type=Path, required=True, help="the candidate's artifact dir"
    )
    parser.add_argument(
        "--traffic",
        required=True,
        help='requests to replay: JSON lines (.jsonl: request bodies {"records": [...]} or '
        "single records), a table (.csv, .parquet: one record per row), or the inputs "
        "model-api logged to Elasticsearch: es://HOST:PORT[/INDEX]?since=7d&model=NAME"
        "&version=V&limit=N (ess:// for https; model-api must run with "
        "UNDERSTUDY_MODEL_API_LOG_INPUTS=true); each record is sent as one request",
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="a ModelRollout spec (YAML); default: the packaged shadow-regression.yaml or "
        "shadow-classification.yaml, by the artifacts' task",
    )
    once = parser.add_mutually_exclusive_group()
    once.add_argument(
        "--loop",
        dest="once",
        action="store_false",
        help="replay the traffic again and again until a decision (the default)",
    )
    once.add_argument(
        "--once",
        dest="once",
        action="store_true",
        help="send every record once; the analysis decides on what that gives",
    )
    parser.set_defaults(once=False)
    add_local_run_options(parser, rate=40.0)
    parser.set_defaults(func=run_shadow)


def run_shadow(args: argparse.Namespace) -> int:
    from understudy_cli.demo.run import DemoOptions, run_plan
    from understudy_cli.exits import run_rollout
    from understudy_cli.options import local_run_problem, local_run_settings
    from understudy_cli.shadow.plan import shadow_plan

    problem = local_run_problem("shadow", args)
    if problem is not None:
        return problem

    def run() -> object:
        plan, default_config = shadow_plan(
            live_dir=args.live,
            candidate_dir=args.candidate,
            traffic_path=args.traffic,
            once=args.once,
        )
        options = DemoOptions(
            config=args.config if args.config is not None else default_config,
            labels=False,
            **local_run_settings(args),
        )
        return run_plan(plan, options)

    return run_rollout("shadow", run)  # type: ignore[arg-type]
