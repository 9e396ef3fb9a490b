"""Benchmark: do the confidence sequences keep their promise when looked at every sample?

For a Bernoulli rate (the beta-binomial CS, prior centred on the rate's threshold) and for
a mean (the asymptotic Gaussian-mixture CS, for a paired relative difference), simulate
streams (seeded, numpy draws), look after **every** sample, and count the streams in which
the sequence ever excluded the true value. Next to them, the same count for the classical
fixed-sample interval (Wilson score for rates, normal for means, 95%) looked at every
sample from the 100th on (``--fixed-from``): the peeking problem.

    uv run python bench/sequence_coverage.py [--streams 1000] [--looks 2000]

Writes bench/results/sequence_coverage.json; the README's "coverage" section has a run.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from understudy_operator.core.statistics import (
    BetaPrior,
    Moments,
    mean_confidence_sequence,
    prior_for_threshold,
    rate_log_mixture,
)

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
RATES = ((0.001, 0.01), (0.01, 0.01), (0.1, 0.1), (0.5, 0.5), (0.9, 0.9), (0.99, 0.9))


def rate_misses(
    p: float,
    prior: BetaPrior,
    *,
    streams: int,
    looks: int,
    alpha: float,
    start: int,
    rng: np.random.Generator,
) -> tuple[float, float]:
    level = math.log(1 / alpha)
    counts = np.cumsum(rng.random((streams, looks)) < p, axis=1)
    n = np.arange(1, looks + 1)
    rate, z = counts / n, 1.96
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n))
    window = slice(start - 1, None)
    wilson = float(np.mean(np.any((np.abs(centre - p) > half)[:, window], axis=1)))
    cs = 0
    for row in counts:
        for k, s in enumerate(row.tolist()):
            if rate_log_mixture(s, k + 1, p=p, prior=prior) >= level:
                cs += 1
                break
    return cs / streams, wilson


def mean_misses(
    shape: str, *, streams: int, looks: int, alpha: float, start: int, rng: np.random.Generator
) -> tuple[float, float, float]:
    if shape == "normal":
        values, truth = rng.normal(0.01, 0.05, (streams, looks)), 0.01
    else:  # relative differences with a skewed, heavier right tail
        values, truth = rng.lognormal(0.0, 0.3, (streams, looks)) - 1.0, math.exp(0.045) - 1.0
    total, squares = np.cumsum(values, axis=1), np.cumsum(values**2, axis=1)
    n = np.arange(1, looks + 1)
    mean = total / n
    var = np.maximum(0.0, (squares - total**2 / n) / np.maximum(n - 1, 1))
    half = 1.96 * np.sqrt(var / n)
    window = slice(start - 1, None)
    fixed = float(np.mean(np.any((np.abs(mean - truth) > half)[:, window], axis=1)))
    cs = 0
    for t_row, s_row in zip(total, squares, strict=True):
        for k in range(start, looks + 1):
            interval = mean_confidence_sequence(
                Moments(k, float(t_row[k - 1]), float(s_row[k - 1])), alpha=alpha
            )
            if not interval.lower <= truth <= interval.upper:
                cs += 1
                break
    return cs / streams, fixed, truth


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--looks", type=int, default=2000)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument(
        "--fixed-from",
        type=int,
        default=100,
        help="first look of the fixed intervals and the mean CS",
    )
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    started = time.monotonic()
    rows = []
    print(f"{'sequence':<34} {'true':>8} {'CS misses':>10} {'fixed 95% misses':>17}")
    for p, threshold in RATES:
        prior = prior_for_threshold(threshold)
        cs, wilson = rate_misses(
            p,
            prior,
            streams=args.streams,
            looks=args.looks,
            alpha=args.alpha,
            start=args.fixed_from,
            rng=np.random.default_rng([args.seed, round(p * 1000)]),
        )
        label = f"rate, prior centred on {threshold}"
        rows.append(
            {
                "kind": "rate",
                "true": p,
                "prior_threshold": threshold,
                "cs_miss": cs,
                "fixed_miss": wilson,
            }
        )
        print(f"{label:<34} {p:>8g} {100 * cs:>9.1f}% {100 * wilson:>16.1f}%")
    for shape in ("normal", "skewed"):
        cs, fixed, truth = mean_misses(
            shape,
            streams=args.streams,
            looks=args.looks,
            alpha=args.alpha,
            start=args.fixed_from,
            rng=np.random.default_rng([args.seed, len(shape)]),
        )
        label = f"mean ({shape}), looks from {args.fixed_from}"
        rows.append(
            {"kind": "mean", "shape": shape, "true": truth, "cs_miss": cs, "fixed_miss": fixed}
        )
        print(f"{label:<34} {truth:>8.4f} {100 * cs:>9.1f}% {100 * fixed:>16.1f}%")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "sequence_coverage.json"
    out.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "streams": args.streams,
                "looks": args.looks,
                "alpha": args.alpha,
                "seconds": round(time.monotonic() - started, 1),
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"\nwrote {out.relative_to(REPO)} in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
