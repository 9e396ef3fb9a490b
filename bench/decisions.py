"""Benchmark: how often rollouts are decided wrongly, and how fast, under two rate rules.

Simulates rollouts with the operator's analysis schedule (core/spec.py defaults: a run every
``interval`` after a ``warmup`` of two intervals, a run is only counted once the sample
count — every sample since the analysis started — reaches ``minSamples`` = 500) and a
candidate whose true rate is fixed, with ``n`` new samples per interval (i.i.d.
Bernoulli), for two kinds of check:

    error-rate   candidate-error-rate, max τ = 0.01 (successes = failed mirrors)
    agreement    agreement-rate, min τ = 0.90 (successes = agreeing records)

and three rules:

    threshold    today's core: a run passes when the rate over the run's interval (its last
                 ``n`` samples) is on the good side of τ (≤ max, ≥ min); promote after
                 ``successfulRuns`` = 5 passes in a row, roll back after ``failureLimit``
                 = 2 failed runs.
    cs           the beta-binomial confidence sequence (core/statistics/sequential.py,
                 α = 0.05, prior centred on τ) over the cumulative counts since the analysis
                 started: PASS when the CS is wholly on the good side, FAIL when wholly on
                 the bad side, otherwise not yet. Promote on the first PASS, roll back on
                 the first FAIL (one PASS already carries the α guarantee).
    cs-5         the same CS with the default streaks kept (5 PASS runs in a row, 2 FAIL).
    cs-1s        the one-sided mixture tests instead of the two-sided CS (α = 0.05 for a
                 false PASS and α = 0.05 for a false FAIL), first PASS / first FAIL.

A rollout no rule has decided after ``--give-up-runs`` runs (default 120: an hour of 30 s
runs) is counted as undecided. Cases per check: the true rate exactly at τ (every promotion
is false), clearly inside (τ/2 for the error rate, 0.95 agreement: every rollback is false),
clearly good (0.001 / 0.99) and clearly bad (0.03 / 0.80): samples to the decision.

    uv run python bench/decisions.py [--rollouts 2000] [--per-interval 200 1200] [--seed 1]

Prints a table and writes JSON to bench/results/decisions.json. numpy draws the counts; the
decisions are the core's own functions.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from understudy_operator.core.spec import AnalysisSpec
from understudy_operator.core.statistics import (
    Direction,
    Outcome,
    prior_for_threshold,
    rate_decision,
)

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
DEFAULTS = AnalysisSpec()


@dataclass(frozen=True)
class Case:
    check: str
    name: str
    threshold: float
    direction: Direction
    rate: float  # the candidate's true rate of "successes"


CASES = (
    Case("error-rate", "at threshold", 0.01, Direction.MAX, 0.01),
    Case("error-rate", "clearly inside", 0.01, Direction.MAX, 0.005),
    Case("error-rate", "clearly good", 0.01, Direction.MAX, 0.001),
    Case("error-rate", "clearly bad", 0.01, Direction.MAX, 0.03),
    Case("agreement", "at threshold", 0.90, Direction.MIN, 0.90),
    Case("agreement", "clearly inside", 0.90, Direction.MIN, 0.95),
    Case("agreement", "clearly good", 0.90, Direction.MIN, 0.99),
    Case("agreement", "clearly bad", 0.90, Direction.MIN, 0.80),
)
RULES = ("threshold", "cs", "cs-5", "cs-1s")


@dataclass(frozen=True)
class Result:
    check: str
    case: str
    rate: float
    threshold: float
    per_interval: int
    rule: str
    promoted: float
    rolled_back: float
    undecided: float
    median_samples: float | None  # among decided rollouts
    p90_samples: float | None


def simulate(
    case: Case,
    *,
    rule: str,
    per_interval: int,
    rollouts: int,
    give_up_runs: int,
    alpha: float,
    rng: np.random.Generator,
) -> Result:
    warmup, runs = round(DEFAULTS.warmup_seconds / DEFAULTS.interval_seconds), give_up_runs
    # counts[r, k]: successes in interval k (k = 0 … warmup + runs − 1) of rollout r; run j
    # happens at the end of interval warmup − 1 + j and sees intervals 0 … warmup − 1 + j.
    counts = rng.binomial(per_interval, case.rate, size=(rollouts, warmup + runs))
    cumulative = np.cumsum(counts, axis=1)
    streak_needed = DEFAULTS.successful_runs if rule in ("threshold", "cs-5") else 1
    fails_allowed = DEFAULTS.failure_limit if rule in ("threshold", "cs-5") else 1
    prior = prior_for_threshold(case.threshold)
    cache: dict[tuple[int, int], Outcome] = {}

    outcome = np.zeros(rollouts, dtype=np.int8)  # 0 undecided, 1 promoted, −1 rolled back
    decided_at = np.full(rollouts, -1, dtype=np.int64)
    streak = np.zeros(rollouts, dtype=np.int64)
    failures = np.zeros(rollouts, dtype=np.int64)
    for j in range(runs):
        k = warmup - 1 + j
        samples = (k + 1) * per_interval
        if samples < DEFAULTS.min_samples:
            continue  # waiting for samples: not counted
        active = outcome == 0
        if not active.any():
            break
        if rule == "threshold":
            rate = counts[:, k] / per_interval
            good = (
                rate <= case.threshold
                if case.direction is Direction.MAX
                else rate >= case.threshold
            )
            passed, failed = good, ~good
        else:
            verdicts = []
            for s in cumulative[:, k]:
                key = (int(s), samples)
                if key not in cache:
                    cache[key] = rate_decision(
                        int(s),
                        samples,
                        threshold=case.threshold,
                        direction=case.direction,
                        alpha=alpha,
                        prior=prior,
                        one_sided=rule == "cs-1s",
                    )
                verdicts.append(cache[key])
            passed = np.array([v is Outcome.PASS for v in verdicts])
            failed = np.array([v is Outcome.FAIL for v in verdicts])
        # not yet (neither) leaves the streak alone: it is no evidence either way.
        streak = np.where(passed, streak + 1, np.where(failed, 0, streak))
        failures = failures + failed
        promote = active & (streak >= streak_needed)
        rollback = active & ~promote & (failures >= fails_allowed)
        outcome[promote], outcome[rollback] = 1, -1
        decided_at[promote | rollback] = samples
    decided = decided_at[decided_at >= 0]
    return Result(
        check=case.check,
        case=case.name,
        rate=case.rate,
        threshold=case.threshold,
        per_interval=per_interval,
        rule=rule,
        promoted=float(np.mean(outcome == 1)),
        rolled_back=float(np.mean(outcome == -1)),
        undecided=float(np.mean(outcome == 0)),
        median_samples=float(np.median(decided)) if decided.size else None,
        p90_samples=float(np.percentile(decided, 90)) if decided.size else None,
    )


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _samples(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rollouts", type=int, default=2000)
    parser.add_argument("--per-interval", type=int, nargs="+", default=[200, 1200])
    parser.add_argument("--give-up-runs", type=int, default=120)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "decisions.json")
    args = parser.parse_args()

    started = time.monotonic()
    results: list[Result] = []
    for per_interval in args.per_interval:
        for case in CASES:
            for rule in RULES:
                # One seed per (case, n): every rule sees the same simulated streams.
                seed = [args.seed, per_interval, CASES.index(case)]
                results.append(
                    simulate(
                        case,
                        rule=rule,
                        per_interval=per_interval,
                        rollouts=args.rollouts,
                        give_up_runs=args.give_up_runs,
                        alpha=args.alpha,
                        rng=np.random.default_rng(seed),
                    )
                )
    header = (
        f"{'check':<11} {'case':<15} {'rate':>6} {'n/int':>6} {'rule':<10} "
        f"{'promoted':>9} {'rolled back':>12} {'undecided':>10} {'median n':>9} {'p90 n':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.check:<11} {r.case:<15} {r.rate:>6g} {r.per_interval:>6} {r.rule:<10} "
            f"{_pct(r.promoted):>9} {_pct(r.rolled_back):>12} {_pct(r.undecided):>10} "
            f"{_samples(r.median_samples):>9} {_samples(r.p90_samples):>8}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": platform.platform(),
                "seconds": round(time.monotonic() - started, 1),
                "settings": {
                    "rollouts": args.rollouts,
                    "per_interval": args.per_interval,
                    "give_up_runs": args.give_up_runs,
                    "alpha": args.alpha,
                    "seed": args.seed,
                    "min_samples": DEFAULTS.min_samples,
                    "successful_runs": DEFAULTS.successful_runs,
                    "failure_limit": DEFAULTS.failure_limit,
                    "warmup_seconds": DEFAULTS.warmup_seconds,
                    "interval_seconds": DEFAULTS.interval_seconds,
                },
                "results": [asdict(r) for r in results],
            },
            indent=2,
        )
    )
    print(f"\nwrote {args.out.relative_to(REPO)} in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
