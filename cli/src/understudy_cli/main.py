"""The ``understudy`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from understudy_cli.exits import (
    EXIT_BACKEND_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NO_DECISION,
    EXIT_PROMOTED,
    EXIT_ROLLED_BACK,
    EXIT_START_FAILED,
    EXIT_USAGE,
    run_rollout,
)


def build_parser() -> argparse.ArgumentParser:
    from understudy_cli.demo.scenarios import SCENARIOS
    from understudy_cli.examples import EXAMPLES
    from understudy_cli.options import add_local_run_options
    from understudy_cli.pack_command import add_model
    from understudy_cli.shadow.command import add_shadow

    parser = argparse.ArgumentParser(
        prog="understudy",
        description="Understudy: replace a live ML model without betting production on it.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="run a whole shadow rollout on this machine (no Kubernetes needed)",
        description=(
            "Start model-api v1 (live) and the candidate, the shadow router and a local "
            "rollout controller (the operator's decision core), send traffic built from the "
            "Ames holdout set, and end promoted or rolled back with a report. "
            f"Exit codes: {EXIT_PROMOTED} promoted, {EXIT_ROLLED_BACK} rolled back, "
            f"{EXIT_USAGE} bad usage or config, {EXIT_NO_DECISION} no decision (paused, "
            f"awaiting approval, timed out), {EXIT_START_FAILED} a process failed to start, "
            f"{EXIT_INTERRUPTED} interrupted."
        ),
    )
    demo.add_argument(
        "--scenario",
        choices=sorted(SCENARIOS),
        default="good",
        help="good: v2 should be promoted; bad-candidate: a model trained on "
        "shuffled prices should be rolled back; segment-off, neighborhood-off: v2 off on "
        "one segment; slow-candidate: v2 about 3x slower, same predictions; "
        "flaky-candidate: v2 failing on a fifth of the houses, rolled back at the first "
        "canary step with --canary; "
        "less-accurate: v1 4%% too cheap, rolled back on realized error with "
        "--ground-truth; drift: the traffic moves to newer, larger houses, rolled back "
        "on input drift (default %(default)s)",
    )
    config = demo.add_mutually_exclusive_group()
    config.add_argument(
        "--config",
        type=Path,
        help="a ModelRollout spec (YAML) with your thresholds, interval, "
        "minSamples; default: the packaged default-rollout.yaml",
    )
    config.add_argument(
        "--ground-truth",
        action="store_true",
        help="use the packaged ground-truth-rollout.yaml: promotion needs label-coverage and "
        "realized-error-ratio (the candidate at least as accurate as live on true prices); "
        "try it with --scenario good and --scenario less-accurate",
    )
    config.add_argument(
        "--canary",
        action="store_true",
        help="use the packaged canary-rollout.yaml: after the shadow, canary steps at 10%% "
        "and 50%% of requests answered by the candidate, each judged on its answers; try "
        "it with --scenario good and --scenario flaky-candidate",
    )
    demo.add_argument(
        "--labels",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="send each house's true price to the router's POST /v1/feedback after "
        "--label-delay, and show realized MAE; default: on when the config has a "
        "label-coverage or realized-error-ratio check",
    )
    demo.add_argument(
        "--label-delay",
        default="5s",
        help="how long after its answer a house's label arrives: 500ms, 5s, 1m "
        "(default %(default)s)",
    )
    demo.add_argument(
        "--artifacts",
        type=Path,
        default=Path("artifacts"),
        help="model artifacts folder; missing models are trained (default %(default)s)",
    )
    add_local_run_options(demo, rate=40.0)
    parser.set_defaults(func=None)
    demo.add_argument(
        "--example",
        choices=sorted(EXAMPLES),
        help="another worked example instead of the Ames house prices: breast-cancer, a "
        "classifier on scikit-learn's bundled data set (scenarios good and bad-candidate)",
    )
    demo.set_defaults(func=_run_demo)
    add_shadow(sub)
    add_model(sub)
    _add_logs(sub)
    _add_drift(sub)
    _add_rollout(sub)
    return parser


def _add_drift(sub: argparse._SubParsersAction) -> None:
    drift = sub.add_parser(
        "drift",
        help="rank a model-api's input features by drift against its training reference, "
        "with a plot of reference vs live for the top ones",
        description=(
            "Drift per input feature: the live inputs a model-api counted into its training "
            "reference's buckets (understudy_model_api_drift_* series) against the reference "
            "shares, PSI per feature (KS for numbers, chi-square for categories). From the "
            "pods' /metrics (every count since they started, summed over the URLs given) or "
            "from Prometheus over --window. Exit codes: 0 no feature over --max, 1 some "
            f"feature over it, {EXIT_USAGE} bad usage, {EXIT_BACKEND_FAILED} the metrics could "
            "not be read or hold no drift series."
        ),
    )
    where = drift.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--url", nargs="+", help="model-api base URL(s), e.g. http://127.0.0.1:8000 (summed)"
    )
    where.add_argument("--prometheus", help="Prometheus URL, e.g. http://localhost:9090")
    drift.add_argument("--model", default="house-prices", help="(Prometheus) model name")
    drift.add_argument("--version", help="model version (required with --prometheus)")
    drift.add_argument("--namespace", default="", help="(Prometheus) the pods' namespace")
    drift.add_argument("--window", default="1h", help="(Prometheus) the window (default 1h)")
    drift.add_argument("--top", type=int, default=10, help="features listed (default 10)")
    drift.add_argument(
        "--max", type=float, default=0.2, help="PSI bound for the exit code (default 0.2)"
    )
    drift.add_argument("--plot", type=Path, help="write a PNG of reference vs live here")
    drift.set_defaults(func=_run_drift)


def _run_drift(args: argparse.Namespace) -> int:
    from understudy_cli import drift

    try:
        if args.prometheus:
            if not args.version:
                print("understudy drift: --prometheus needs --version", file=sys.stderr)
                return EXIT_USAGE
            evidence = drift.from_prometheus(
                args.prometheus,
                model=args.model,
                version=args.version,
                window=args.window,
                namespace=args.namespace,
            )
        else:
            evidence = drift.from_metrics(args.url, version=args.version)
    except drift.DriftSourceError as exc:
        print(f"understudy drift: {exc}", file=sys.stderr)
        return EXIT_BACKEND_FAILED
    inputs, prediction, silent = drift.rank(evidence)
    print(f"{evidence.model} {evidence.version}: {drift.summary(inputs, bound=args.max)}")
    print("\n".join(drift.table(inputs, top=args.top, bound=args.max)))
    if prediction is not None:
        print(f"predictions: {drift.describe_drift(prediction)}")
    if silent:
        print(f"no records for: {', '.join(silent)}")
    if args.plot is not None and drift.plot(inputs, path=args.plot, top=4):
        print(f"plot: {args.plot}")
    return 1 if any(d.psi > args.max for d in inputs) else 0


def _add_rollout(sub: argparse._SubParsersAction) -> None:
    from understudy_cli.rollout.cli import EXIT_CODES, add_commands

    rollout = sub.add_parser(
        "rollout",
        help="look at and steer a ModelRollout in a cluster (the same commands as "
        "`kubectl understudy`)",
        description="get, approve, abort, resume, retry, promote --skip-analysis, dry-run, report. "
        + EXIT_CODES,
    )
    add_commands(rollout.add_subparsers(dest="command_verb", required=True, metavar="COMMAND"))


def _add_logs(sub: argparse._SubParsersAction) -> None:
    from understudy_cli.logsearch import DEFAULT_INDEX

    logs = sub.add_parser(
        "logs",
        help="search the router's comparison events in Elasticsearch (Kibana's "
        "disagreements search, from the terminal); --worse: labelled records where the "
        "candidate was worse",
        description=(
            "Search the shadow-router.comparison events that Fluent Bit ships to "
            "Elasticsearch: newest first, with the live and candidate predictions and the "
            "outcome counts. Reach Elasticsearch in the cluster with e.g. "
            "`kubectl -n understudy port-forward svc/understudy-elasticsearch 9200`. "
            f"Exit codes: 0 found or not, {EXIT_USAGE} bad usage, {EXIT_BACKEND_FAILED} "
            "Elasticsearch unreachable or refused the search."
        ),
    )
    logs.add_argument("--es", required=True, help="Elasticsearch URL, e.g. http://localhost:9200")
    logs.add_argument("--index", default=DEFAULT_INDEX, help="index pattern (default %(default)s)")
    logs.add_argument(
        "--since", default="1h", help="how far back: 15m, 1h, 2d (default %(default)s)"
    )
    logs.add_argument("--candidate", help="only this candidate version")
    only = logs.add_mutually_exclusive_group()
    only.add_argument(
        "--disagreements", action="store_true", help="only events where a record disagreed"
    )
    only.add_argument(
        "--worse",
        action="store_true",
        help="ground truth instead of comparisons: the labelled records (shadow-router."
        "feedback events) where the candidate's absolute error exceeded live's, the "
        "largest gap first",
    )
    logs.add_argument("--request-id", help="one request (its X-Request-ID)")
    logs.add_argument("--limit", type=int, default=20, help="events shown (default %(default)s)")
    logs.add_argument(
        "--api-key", default=None, help="an Elasticsearch API key (default: $UNDERSTUDY_ES_API_KEY)"
    )
    logs.set_defaults(func=_run_logs)


def _run_logs(args: argparse.Namespace) -> int:
    from understudy_cli.logsearch import ComparisonQuery, format_result, search_comparisons

    if args.worse:
        return _run_worse(args)
    return _search_logs(
        args,
        lambda: ComparisonQuery(
            since=args.since,
            candidate_version=args.candidate,
            disagreements_only=args.disagreements,
            request_id=args.request_id,
            limit=args.limit,
        ),
        search_comparisons,
        format_result,
    )


def _run_worse(args: argparse.Namespace) -> int:
    from understudy_cli.feedbacksearch import (
        FeedbackQuery,
        format_feedback_result,
        search_feedback,
    )

    return _search_logs(
        args,
        lambda: FeedbackQuery(
            since=args.since,
            candidate_version=args.candidate,
            request_id=args.request_id,
            limit=args.limit,
        ),
        search_feedback,
        format_feedback_result,
    )


def _search_logs(
    args: argparse.Namespace,
    make_query: Callable[[], Any],
    search: Callable[..., Any],
    show: Callable[[Any], str],
) -> int:
    """One search of `understudy logs`: a bad query is a usage error, an unreachable or
    failing Elasticsearch a backend failure."""
    from understudy_cli.logsearch import SearchError

    try:
        query = make_query()
    except ValueError as exc:
        print(f"understudy logs: {exc}", file=sys.stderr)
        return EXIT_USAGE
    with _es_client(args) as http:
        try:
            result = search(http, es_url=args.es, index=args.index, query=query)
        except SearchError as exc:
            print(f"understudy logs: {exc}", file=sys.stderr)
            return EXIT_BACKEND_FAILED
    print(show(result))
    return 0


def _es_client(args: argparse.Namespace) -> Any:
    import os

    import httpx

    api_key = args.api_key or os.environ.get("UNDERSTUDY_ES_API_KEY")
    headers = {"authorization": f"ApiKey {api_key}"} if api_key else {}
    return httpx.Client(headers=headers, timeout=10)


def _run_demo(args: argparse.Namespace) -> int:
    from understudy_cli.demo.config import CANARY_CONFIG, GROUND_TRUTH_CONFIG
    from understudy_cli.demo.run import DemoOptions, run_demo
    from understudy_cli.options import local_run_problem, local_run_settings

    problem = local_run_problem("demo", args)
    if problem is not None:
        return problem
    label_delay = _seconds(args.label_delay)
    if label_delay is None:
        print(
            f"understudy demo: --label-delay must be a duration like 500ms, 5s or 1m, "
            f"got {args.label_delay!r}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    options = DemoOptions(
        scenario=args.scenario,
        config=(
            GROUND_TRUTH_CONFIG
            if args.ground_truth
            else CANARY_CONFIG
            if args.canary
            else args.config
        ),
        labels=args.labels,
        label_delay=label_delay,
        artifacts_dir=args.artifacts,
        **local_run_settings(args),
    )
    if args.example is not None:
        from understudy_cli.examples import run_example

        return run_rollout("demo", lambda: run_example(args.example, options))
    return run_rollout("demo", lambda: run_demo(options))


def _seconds(text: str) -> float | None:
    """A duration (``500ms``, ``5s``, ``1m``, or plain seconds) in seconds; None if bad."""
    from understudy_operator.core import parse_duration

    try:
        value = float(text)
    except ValueError:
        try:
            value = parse_duration(text)
        except ValueError:
            return None
    return value if value >= 0 else None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
