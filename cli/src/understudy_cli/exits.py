"""Exit codes of the ``understudy`` command, and running one local rollout to one of them."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from understudy_cli.demo.run import DemoOutcome

EXIT_PROMOTED = 0
EXIT_ROLLED_BACK = 1
EXIT_USAGE = 2  # argparse's own code for a bad command line; also a bad config file
EXIT_NO_DECISION = 3  # paused, waiting for approval, or out of time
EXIT_START_FAILED = 4  # a process would not start (port in use, missing artifact, ...)
EXIT_BACKEND_FAILED = 5  # `understudy logs`: Elasticsearch unreachable or refused the search
EXIT_INTERRUPTED = 130


def run_rollout(command: str, run: Callable[[], DemoOutcome]) -> int:
    """Run a local rollout (``understudy demo`` / ``shadow``), print its end, and return
    its exit code; errors before and during it become messages with their exit codes."""
    from understudy_cli.demo.config import ConfigError
    from understudy_cli.demo.supervisor import StartError
    from understudy_cli.interrupt import interruptible
    from understudy_cli.shadow.traffic_file import TrafficError

    try:
        with interruptible():
            outcome = run()
    except ConfigError as exc:
        print(f"understudy {command}: bad configuration: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TrafficError as exc:
        print(f"understudy {command}: bad traffic file: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StartError as exc:
        print(f"understudy {command}: {exc}", file=sys.stderr)
        return EXIT_START_FAILED
    except TimeoutError as exc:
        print(f"understudy {command}: {exc} (--max-seconds)", file=sys.stderr)
        return EXIT_NO_DECISION
    except KeyboardInterrupt:
        print(
            f"\nunderstudy {command}: interrupted; every process it started is stopped",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    print()
    print(f"decision: {outcome.phase} — {outcome.message}")
    if outcome.realized:
        print(f"labels:   {outcome.realized}")
    print(f"report:   {outcome.report}")
    if outcome.promoted:
        return EXIT_PROMOTED
    if outcome.phase == "RolledBack":
        return EXIT_ROLLED_BACK
    return EXIT_NO_DECISION
