"""The ``understudy`` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_PROMOTED = 0
EXIT_ROLLED_BACK = 1
EXIT_USAGE = 2  # argparse's own code for a bad command line; also a bad config file
EXIT_NO_DECISION = 3  # paused, waiting for approval, or out of time
EXIT_START_FAILED = 4  # a process would not start (port in use, missing artifact, ...)
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    from understudy_local.demo import SCENARIOS

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
        "shuffled prices should be rolled back (default %(default)s)",
    )
    demo.add_argument(
        "--config",
        type=Path,
        help="a ModelRollout spec (YAML) with your thresholds, interval, "
        "minSamples; default: the packaged default-rollout.yaml",
    )
    demo.add_argument(
        "--artifacts",
        type=Path,
        default=Path("artifacts"),
        help="model artifacts folder; missing models are trained (default %(default)s)",
    )
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("reports"),
        help="where each run's folder (report, plot, logs) goes (default %(default)s)",
    )
    demo.add_argument(
        "--rate",
        type=float,
        default=40.0,
        help="requests per second sent to the router (default %(default)s)",
    )
    demo.add_argument(
        "--max-seconds",
        type=float,
        default=300.0,
        help="give up without a decision after this long (default %(default)s)",
    )
    demo.add_argument("--router-port", type=int, help="the router's port (default: a free one)")
    demo.add_argument(
        "--metrics",
        choices=["auto", "prometheus", "router"],
        default="auto",
        help="where the analysis reads evidence: a local Prometheus, the router's own "
        "/metrics, or auto: Prometheus when installed (default %(default)s)",
    )
    demo.add_argument(
        "--plain", action="store_true", help="plain progress lines instead of the live display"
    )
    parser.set_defaults(func=None)
    demo.set_defaults(func=_run_demo)
    return parser


def _run_demo(args: argparse.Namespace) -> int:
    from understudy_local.demo import DemoOptions, run_demo
    from understudy_local.demo_config import ConfigError
    from understudy_local.supervisor import StartError, port_is_free

    if args.rate <= 0:
        print("understudy demo: --rate must be positive", file=sys.stderr)
        return EXIT_USAGE
    if args.router_port is not None and not port_is_free(args.router_port):
        print(
            f"understudy demo: port {args.router_port} is in use; choose another "
            "--router-port or leave it out to use a free one",
            file=sys.stderr,
        )
        return EXIT_START_FAILED
    options = DemoOptions(
        scenario=args.scenario,
        config=args.config,
        artifacts_dir=args.artifacts,
        out_dir=args.out,
        rate=args.rate,
        max_seconds=args.max_seconds,
        interactive=False if args.plain else None,
        router_port=args.router_port,
        metrics=args.metrics,
    )
    try:
        outcome = run_demo(options)
    except ConfigError as exc:
        print(f"understudy demo: bad configuration: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StartError as exc:
        print(f"understudy demo: {exc}", file=sys.stderr)
        return EXIT_START_FAILED
    except TimeoutError as exc:
        print(f"understudy demo: {exc} (--max-seconds)", file=sys.stderr)
        return EXIT_NO_DECISION
    except KeyboardInterrupt:
        print(
            "\nunderstudy demo: interrupted; every process it started is stopped", file=sys.stderr
        )
        return EXIT_INTERRUPTED
    print()
    print(f"decision: {outcome.phase} — {outcome.message}")
    print(f"report:   {outcome.report}")
    if outcome.promoted:
        return EXIT_PROMOTED
    if outcome.phase == "RolledBack":
        return EXIT_ROLLED_BACK
    return EXIT_NO_DECISION


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
