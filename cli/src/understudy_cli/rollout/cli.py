"""The commands' command line: ``kubectl-understudy`` (``kubectl understudy ...`` once on
PATH) and ``understudy rollout ...`` share :func:`add_commands`. Exit codes: kube.py."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from understudy_cli.rollout.errors import (
    EXIT_API,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    PluginError,
)

if TYPE_CHECKING:
    from understudy_cli.rollout.kube import Rollouts

FAILED_PHASES = frozenset({"RolledBack", "Failed"})
EXIT_CODES = (
    f"Exit codes: {EXIT_OK} ok, {EXIT_FAILED} the rollout is RolledBack or Failed (get; "
    f"dry-run: also a run that would fail), {EXIT_USAGE} bad usage or kubeconfig, "
    f"{EXIT_NOT_FOUND} no such rollout or namespace, {EXIT_REFUSED} the command does not "
    f"apply in the rollout's phase or was not confirmed, {EXIT_API} the API server or "
    f"Prometheus unreachable or refusing, {EXIT_INTERRUPTED} interrupted."
)
SIGNAL_HELP = {
    "approve": "promote the candidate once its analysis has passed (promotion: manual)",
    "abort": "roll the candidate back now; the stable version stays live",
    "resume": "continue a Paused analysis (or retry a RolledBack candidate)",
    "retry": "after RolledBack or Failed: shadow the same candidate again, fresh counters",
}


def _connection() -> argparse.ArgumentParser:
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument("--kubeconfig", help="path to the kubeconfig (default: $KUBECONFIG)")
    flags.add_argument("--context", help="the kubeconfig context to use")
    flags.add_argument("-n", "--namespace", help="the rollout's namespace (default: the context's)")
    return flags


def add_commands(sub: argparse._SubParsersAction) -> None:
    """One subcommand per verb on ``sub`` (kubectl-understudy's or `understudy rollout`'s)."""
    parent = [_connection()]

    def command(name: str, help_: str, run_verb: Callable[..., int]) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=f"{help_}. {EXIT_CODES}", parents=parent)
        p.add_argument("name", metavar="NAME", help="the ModelRollout's name")
        p.set_defaults(func=run, verb=run_verb)
        return p

    get = command(
        "get", "show the rollout: phase, versions, analysis runs x checks, conditions", _get
    )
    get.add_argument("-w", "--watch", action="store_true", help="redraw on every change (a watch)")
    get.add_argument("--timeout", type=int, help="with -w: stop watching after this many seconds")
    get.add_argument("-o", "--output", choices=["table", "json"], default="table")
    for verb, help_ in SIGNAL_HELP.items():
        command(verb, help_, _signal)
    promote = command(
        "promote", "promote the candidate now, skipping what is left of its analysis", _promote
    )
    promote.add_argument(
        "--skip-analysis",
        action="store_true",
        required=True,
        help="required: say that you promote without a passed analysis",
    )
    promote.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    dry = command(
        "dry-run", "evaluate the analysis now and print what the operator would decide", _dry_run
    )
    dry.add_argument(
        "--prometheus-url",
        default=os.environ.get("UNDERSTUDY_PROMETHEUS_URL", "http://localhost:9090"),
        help="Prometheus the operator reads (e.g. through kubectl port-forward); default "
        "$UNDERSTUDY_PROMETHEUS_URL or %(default)s",
    )

    report = command(
        "report",
        "write the demo's report (report.md, summary.json, the live-vs-candidate plot) for "
        "the rollout's shadow window, judged from Prometheus",
        _report,
    )
    report.add_argument(
        "--prometheus-url",
        default=os.environ.get("UNDERSTUDY_PROMETHEUS_URL", "http://localhost:9090"),
        help="Prometheus the operator reads; default $UNDERSTUDY_PROMETHEUS_URL or %(default)s",
    )
    report.add_argument(
        "--es",
        default=os.environ.get("UNDERSTUDY_ES_URL"),
        help="Elasticsearch holding the router's comparison logs, for the live-vs-candidate "
        "plot (default $UNDERSTUDY_ES_URL; without it the report has no plot)",
    )
    report.add_argument(
        "--out", type=Path, default=Path("reports"), help="where the report's folder goes"
    )


def run(args: argparse.Namespace) -> int:
    """Run a parsed command; errors become a line on stderr and their exit code."""
    from understudy_cli.rollout.kube import Rollouts, Target  # the client: only when used

    try:
        rollouts = Rollouts(Target(args.kubeconfig, args.context, args.namespace))
        return int(args.verb(args, rollouts))
    except PluginError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _phase_code(obj: dict[str, Any]) -> int:
    return EXIT_FAILED if (obj.get("status") or {}).get("phase") in FAILED_PHASES else EXIT_OK


def _get(args: argparse.Namespace, rollouts: Rollouts) -> int:
    from rich.console import Console

    from understudy_cli.demo.display import Display
    from understudy_cli.rollout.view import RunHistory, rollout_view, screen

    if args.timeout is not None and not args.watch:
        raise PluginError("--timeout needs -w/--watch", EXIT_USAGE)
    history = RunHistory()
    if not args.watch:
        obj = rollouts.get(args.name)
        if args.output == "json":
            print(json.dumps(obj, indent=2))
        else:
            Console().print(screen(obj, history))
        return _phase_code(obj)
    started = time.monotonic()
    stream = rollouts.watch(args.name, timeout_seconds=args.timeout)
    last = next(stream)
    with Display(rollout_view(last, history)) as display:
        display.refresh()
        for obj in stream:
            last = obj
            display.view = rollout_view(obj, history)
            display.view.elapsed = time.monotonic() - started
            display.refresh()
    return _phase_code(last)


def _signal(args: argparse.Namespace, rollouts: Rollouts) -> int:
    from understudy_cli.rollout.signals import send
    from understudy_operator.core import Signal

    print(send(rollouts, args.name, Signal(args.command_verb)))
    return EXIT_OK


def _promote(args: argparse.Namespace, rollouts: Rollouts) -> int:
    from understudy_cli.rollout.signals import send
    from understudy_operator.core import Signal

    confirm: Callable[[str], bool] | None = None
    if not args.yes:
        if not sys.stdin.isatty():
            raise PluginError(
                "promote --skip-analysis asks for confirmation on a terminal; "
                "pass --yes from scripts",
                EXIT_REFUSED,
            )
        confirm = _ask
    print(send(rollouts, args.name, Signal.PROMOTE, confirm=confirm))
    return EXIT_OK


def _ask(question: str) -> bool:
    answer = input(f"{question} [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _dry_run(args: argparse.Namespace, rollouts: Rollouts) -> int:
    from rich.console import Console

    from understudy_cli.rollout.dryrun import SpecError, dry_run, would_fail
    from understudy_cli.rollout.view import RunHistory, screen
    from understudy_operator.providers.prometheus import PrometheusProvider
    from understudy_operator.providers.promql import PromQLSource

    obj = rollouts.get(args.name)
    provider = PrometheusProvider(url=args.prometheus_url)
    try:
        result = dry_run(obj, source=PromQLSource(provider), now=datetime.now(UTC))
    except SpecError as exc:
        print(f"invalid spec: {exc}")
        return EXIT_FAILED
    finally:
        provider.close()
    print(f"dry run of {rollouts.namespace}/{args.name}: {result.note}; nothing is changed")
    decision = result.decision
    if decision is None:
        return _phase_code(obj)
    Console().print(screen({**obj, "status": decision.status.to_dict()}, RunHistory()))
    actions = ", ".join(str(a) for a in decision.actions) or "none"
    print(f"would decide: {decision.status.phase} ({decision.reason}); actions: {actions}")
    print(f"message: {decision.message}")
    if result.source_failed:
        print(f"error: Prometheus at {args.prometheus_url} could not be asked", file=sys.stderr)
        return EXIT_API
    return EXIT_FAILED if would_fail(result) else EXIT_OK


def _report(args: argparse.Namespace, rollouts: Rollouts) -> int:
    from understudy_cli.rollout.report import write_rollout_report

    obj = rollouts.get(args.name)
    path = write_rollout_report(
        obj,
        prometheus_url=args.prometheus_url,
        es_url=args.es,
        out_dir=args.out,
        now=datetime.now(UTC),
    )
    print(f"report: {path}")
    return _phase_code(obj)


def build_parser(prog: str = "kubectl understudy") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Look at and steer Understudy ModelRollouts. " + EXIT_CODES,
    )
    sub = parser.add_subparsers(dest="command_verb", required=True, metavar="COMMAND")
    add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The ``kubectl-understudy`` console script."""
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
