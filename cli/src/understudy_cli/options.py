"""Options shared by the commands that run a local rollout (``demo``, ``shadow``)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any


def add_local_run_options(parser: argparse.ArgumentParser, *, rate: float) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("reports"),
        help="where each run's folder (report, plot, logs) goes (default %(default)s)",
    )
    parser.add_argument(
        "--rate",
        type=_rate,
        default=rate,
        help="requests per second sent to the router, or max: as fast as the candidate "
        "keeps up (each request waits until the router's mirror queue is empty, so no "
        "mirror is dropped) (default %(default)s)",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=300.0,
        help="give up without a decision after this long (default %(default)s)",
    )
    parser.add_argument("--router-port", type=int, help="the router's port (default: a free one)")
    parser.add_argument(
        "--metrics",
        choices=["auto", "prometheus", "router"],
        default="auto",
        help="where the analysis reads evidence: a local Prometheus, the router's own "
        "/metrics, or auto: Prometheus when installed (default %(default)s)",
    )
    parser.add_argument(
        "--plain", action="store_true", help="plain progress lines instead of the live display"
    )


def _rate(text: str) -> float:
    """A positive number of requests per second, or "max" (MAX_RATE: paced by the candidate)."""
    from understudy_cli.demo.traffic import MAX_RATE

    if text.strip().lower() == "max":
        return MAX_RATE
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number or max") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive number, or max")
    return value


def local_run_problem(command: str, args: argparse.Namespace) -> int | None:
    """The exit code for a bad shared option (after saying why), or None."""
    import sys

    from understudy_cli.demo.supervisor import port_is_free
    from understudy_cli.exits import EXIT_START_FAILED, EXIT_USAGE

    if args.rate <= 0:
        print(f"understudy {command}: --rate must be positive", file=sys.stderr)
        return EXIT_USAGE
    if args.router_port is not None and not port_is_free(args.router_port):
        print(
            f"understudy {command}: port {args.router_port} is in use; choose another "
            "--router-port or leave it out to use a free one",
            file=sys.stderr,
        )
        return EXIT_START_FAILED
    return None


def local_run_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The DemoOptions fields of the shared options."""
    return {
        "out_dir": args.out,
        "rate": args.rate,
        "max_seconds": args.max_seconds,
        "interactive": False if args.plain else None,
        "router_port": args.router_port,
        "metrics": args.metrics,
    }
