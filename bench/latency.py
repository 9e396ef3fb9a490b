"""Benchmark: the latency check under CPU stalls, today's p99 ratio vs bounded quantiles.

Simulated rollouts judged on latency alone, on the default schedule (a run every interval
after the warmup, 5 passing runs in a row promote, 2 failed runs roll back; runs are
counted once 500 samples arrived). Each interval brings ``n`` requests per side. Latency:
log-normal, median 4 ms, σ = 0.5 (live; the candidate the same, or 3× slower). Stalls as
on a loaded shared machine: each request independently, with probability 2%, waits an
extra 20–150 ms (a scheduler tick, a disk flush), on either side independently; and one
interval in five has a burst in which 8% of one side's requests (chosen at random) stall.

Rules:
    p99-point    today's ``latency-p99-ratio``: Prometheus' histogram_quantile(0.99) of the
                 interval on the coarse LATENCY_BUCKETS_SECONDS (the router's before issue 10),
                 candidate / live ≤ 1.5 passes, else the run fails.
    p90-bounds   ``quantile_ratio_check`` (core/statistics/quantiles.py, α = 0.05) of the
                 p90 on log-spaced buckets 1.1× apart over the interval: PASS / FAIL /
                 NOT_YET (not yet neither extends nor breaks the streak).
    p90-cumul    the same over every sample since the analysis started.
    p50-bounds   the median over the interval.

    uv run python bench/latency.py [--rollouts 1000] [--per-interval 300]

Writes bench/results/latency.json.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from understudy_common.metrics import FINE_LATENCY_EDGES_SECONDS, LATENCY_BUCKETS_SECONDS
from understudy_operator.core.spec import AnalysisSpec
from understudy_operator.core.statistics import (
    Histogram,
    Outcome,
    histogram_quantile,
    quantile_ratio_check,
)

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
DEFAULTS = AnalysisSpec()
FINE = FINE_LATENCY_EDGES_SECONDS  # what the router exports since issue 10
COARSE = tuple(LATENCY_BUCKETS_SECONDS)
MAX_RATIO = 1.5
RULES = ("p99-point", "p90-bounds", "p90-cumul", "p50-bounds")


@dataclass(frozen=True)
class Result:
    candidate: str
    per_interval: int
    rule: str
    promoted: float
    rolled_back: float
    undecided: float
    median_runs: float | None


def draw(rng: np.random.Generator, n: int, scale: float, burst: bool) -> np.ndarray:
    values = scale * np.exp(rng.normal(np.log(0.004), 0.5, n))
    stalled = rng.random(n) < 0.02
    if burst:
        stalled |= rng.random(n) < 0.08
    return values + stalled * rng.uniform(0.02, 0.15, n)


def histogram(edges: tuple[float, ...], values: np.ndarray) -> Histogram:
    index = np.searchsorted(np.asarray(edges), values, side="left")
    return Histogram(edges, tuple(np.bincount(index, minlength=len(edges) + 1).astype(float)))


def verdict(rule: str, live: list[np.ndarray], cand: list[np.ndarray]) -> Outcome:
    if rule == "p99-point":
        ratio = histogram_quantile(histogram(COARSE, cand[-1]), 0.99) / histogram_quantile(
            histogram(COARSE, live[-1]), 0.99
        )
        return Outcome.PASS if ratio <= MAX_RATIO else Outcome.FAIL
    q = 0.5 if rule == "p50-bounds" else 0.9
    if rule == "p90-cumul":
        live_values, cand_values = np.concatenate(live), np.concatenate(cand)
    else:
        live_values, cand_values = live[-1], cand[-1]
    return quantile_ratio_check(
        live=histogram(FINE, live_values),
        candidate=histogram(FINE, cand_values),
        q=q,
        max_ratio=MAX_RATIO,
    ).outcome


def simulate(
    *, scale: float, rule: str, per_interval: int, rollouts: int, runs: int, seed: int
) -> tuple[float, float, float, float | None]:
    rng = np.random.default_rng(seed)
    warmup = round(DEFAULTS.warmup_seconds / DEFAULTS.interval_seconds)
    promoted = rolled_back = 0
    decided_runs: list[int] = []
    for _ in range(rollouts):
        live: list[np.ndarray] = []
        cand: list[np.ndarray] = []
        streak = failures = 0
        outcome = 0
        for k in range(warmup + runs):
            burst = rng.random() < 0.2
            burst_live = burst and rng.random() < 0.5
            live.append(draw(rng, per_interval, 1.0, burst_live))
            cand.append(draw(rng, per_interval, scale, burst and not burst_live))
            if k < warmup - 1 or (k + 1) * per_interval < DEFAULTS.min_samples:
                continue
            result = verdict(rule, live, cand)
            if result is Outcome.PASS:
                streak += 1
            elif result is Outcome.FAIL:
                streak, failures = 0, failures + 1
            if streak >= DEFAULTS.successful_runs:
                outcome = 1
            elif failures >= DEFAULTS.failure_limit:
                outcome = -1
            if outcome:
                decided_runs.append(k - warmup + 2)
                break
        promoted += outcome == 1
        rolled_back += outcome == -1
    undecided = rollouts - promoted - rolled_back
    median = float(np.median(decided_runs)) if decided_runs else None
    return promoted / rollouts, rolled_back / rollouts, undecided / rollouts, median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rollouts", type=int, default=1000)
    parser.add_argument("--per-interval", type=int, nargs="+", default=[300, 1200])
    parser.add_argument("--runs", type=int, default=40, help="give up after this many runs")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    started = time.monotonic()
    results = []
    header = (
        f"{'candidate':<10} {'n/int':>6} {'rule':<11} {'promoted':>9} {'rolled back':>12} "
        f"{'undecided':>10} {'median runs':>12}"
    )
    print(header)
    print("-" * len(header))
    for per_interval in args.per_interval:
        for name, scale in (("same", 1.0), ("3x slower", 3.0)):
            for rule in RULES:
                p, r, u, m = simulate(
                    scale=scale,
                    rule=rule,
                    per_interval=per_interval,
                    rollouts=args.rollouts,
                    runs=args.runs,
                    seed=args.seed + per_interval + int(scale),
                )
                results.append(Result(name, per_interval, rule, p, r, u, m))
                runs = "—" if m is None else f"{m:.0f}"
                print(
                    f"{name:<10} {per_interval:>6} {rule:<11} {100 * p:>8.1f}% {100 * r:>11.1f}% "
                    f"{100 * u:>9.1f}% {runs:>12}"
                )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "latency.json"
    out.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "settings": vars(args) | {"max_ratio": MAX_RATIO},
                "results": [asdict(r) for r in results],
            },
            indent=2,
            default=str,
        )
    )
    print(f"\nwrote {out.relative_to(REPO)} in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
