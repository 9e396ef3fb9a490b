"""`python -m tools.mutation [--only GLOB] [--workers N]`: mutate, test, score, report."""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys
import time
from pathlib import Path

from . import coverage_map, report, runner
from .config import load
from .mutants import Mutant, find

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ROOT / "reports" / "mutation"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.mutation", description=__doc__)
    parser.add_argument("--only", help="mutate only the target files matching this glob")
    parser.add_argument("--workers", type=int, help="parallel mutants (default: pyproject)")
    parser.add_argument(
        "--rerun",
        type=Path,
        metavar="REPORT",
        help="try only the mutants a previous report.json did not kill; the killed ones keep "
        "their status (valid when tests were only added since)",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    # One thread per BLAS/OpenMP pool: the children run side by side on a shared machine.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    config = load(ROOT)
    REPORTS.mkdir(parents=True, exist_ok=True)
    coverage = coverage_map.build(config, REPORTS)
    targets = [f for f in config.targets if not args.only or fnmatch.fnmatch(f, args.only)]
    mutants = [m for f in targets for m in find(f, (ROOT / f).read_text())]
    print(f"mutation: {len(mutants)} mutants in {len(targets)} files", flush=True)
    carried = _killed_before(args.rerun, mutants) if args.rerun else []
    if carried:
        print(f"mutation: {len(carried)} mutants killed in {args.rerun} are not tried again")
        mutants = [m for m in mutants if m not in {r.mutant for r in carried}]
    runner.preload(config)
    done = 0

    def progress(result: runner.Result) -> None:
        nonlocal done
        done += 1
        if done % 50 == 0 or done == len(mutants):
            print(f"  {done}/{len(mutants)} ({time.monotonic() - started:.0f}s)", flush=True)

    results = carried + runner.run(
        config, mutants, coverage, workers=args.workers or config.workers, on_result=progress
    )
    seconds = time.monotonic() - started
    print()
    print(report.survivors(config, results) or "no survivors")
    print()
    print(report.table(report.score(config, results, "file"), "file"))
    print()
    groups = report.score(config, results, "group")
    print(report.table(groups, "group"))
    for stale in report.stale_equivalents(config, results) if not args.only else []:
        print(f"mutation: allow-list entry matches no survivor: {stale.file}: {stale.change}")
    report.write_json(REPORTS / "report.json", config, results, seconds)
    print(f"\nmutation: {seconds:.0f}s; report in {(REPORTS / 'report.json').relative_to(ROOT)}")
    failing = [g for g, s in groups.items() if s.percent < config.fail_under]
    if failing:
        print(f"mutation: below {config.fail_under:.0f}% killed: {', '.join(failing)}")
    return 1 if failing else 0


def _killed_before(report: Path, mutants: list[Mutant]) -> list[runner.Result]:
    """The mutants `report` says were killed, matched on file, position, line and change."""
    killed = {
        (m["file"], m["index"], m["source_line"], m["change"]): m
        for m in json.loads(report.read_text())["mutants"]
        if m["status"] in (runner.KILLED, runner.TIMEOUT)
    }
    carried = []
    for mutant in mutants:
        old = killed.get((mutant.file, mutant.index, mutant.source_line, mutant.change))
        if old is not None:
            carried.append(runner.Result(mutant, old["status"], old["tests"], old["seconds"]))
    return carried


if __name__ == "__main__":
    sys.exit(main())
