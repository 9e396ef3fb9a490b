"""How many log-spaced prediction buckets keep the bucketed KS within 0.01 of the raw KS.

The router exports predictions as histograms on shared, log-spaced edges
(``understudy_common.histogram.log_spaced_edges``, the one rule); the core
computes KS from the bucket counts (core/statistics/distributions.py), which is a lower
bound of the raw KS with a gap of at most the largest single-bucket mass. This measures the
real gap on the Ames holdout (586 sales) with the trained v1 (live) and v2 (candidate):

- the full holdout, v1's predictions against v2's (the pair a rollout compares), with the
  edge grid slid by 0, 1/20, …, 19/20 of a bucket (the log-ratio between two edges): the
  largest gap over the 20 offsets, so a count is not judged by a lucky alignment of one
  edge with the point where the two CDFs differ most;
- 200 random half splits (v1 on one half, v2 on the other; seeded), the largest gap —
  for reference: with 293 records a side each record is 0.34% of the mass, so the raw
  KS of a window jumps in steps no bucketing can follow;

for several edge ranges and bucket counts, and prints the smallest count from which on the
full-holdout gap stays below 0.01 at every offset.

    make models
    uv run python bench/bucket_edges.py [--artifacts artifacts] [--splits 200]

Writes bench/results/bucket_edges.json.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from understudy_common.histogram import log_spaced_edges
from understudy_model.artifact import load_artifact
from understudy_model.data import holdout_records, load_ames, split_holdout
from understudy_operator.core.statistics import Histogram, ks_distance

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
# 10,000–3,000,000 is the router's default (PREDICTION_BUCKETS_LOW / _HIGH).
RANGES = ((1e4, 1e6), (1e4, 2e6), (1e4, 3e6), (1e4, 1e7), (3e4, 1e6))
COUNTS = (10, 20, 30, 40, 50, 60, 80, 100, 120, 150, 200, 300, 500)
OFFSETS = 20


def raw_ks(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / a.size
    fb = np.searchsorted(b, grid, side="right") / b.size
    return float(np.max(np.abs(fa - fb)))


def histogram(edges: tuple[float, ...], values: np.ndarray) -> Histogram:
    """``Histogram.of`` with numpy's searchsorted (side="left" is the same ``le`` rule)."""
    index = np.searchsorted(np.asarray(edges), values, side="left")
    counts = np.bincount(index, minlength=len(edges) + 1).astype(float)
    return Histogram(edges, tuple(counts.tolist()))


def bucketed_ks(edges: tuple[float, ...], a: np.ndarray, b: np.ndarray) -> float:
    return ks_distance(histogram(edges, a), histogram(edges, b))


def slid(low: float, high: float, count: int, offset: float) -> tuple[float, ...]:
    """The log-spaced grid moved up by ``offset`` of one bucket's log-ratio."""
    ratio = (high / low) ** (1.0 / (count - 1))
    return log_spaced_edges(low * ratio**offset, high * ratio**offset, count)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifacts", type=Path, default=REPO / "artifacts")
    parser.add_argument("--splits", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    records = holdout_records(split_holdout(load_ames()))
    live = np.asarray(load_artifact(args.artifacts / "v1").predict_rows(records), dtype=float)
    cand = np.asarray(load_artifact(args.artifacts / "v2").predict_rows(records), dtype=float)
    rng = np.random.default_rng(args.seed)
    halves = []
    for _ in range(args.splits):
        order = rng.permutation(live.size)
        first, second = order[: live.size // 2], order[live.size // 2 :]
        halves.append((live[first], cand[second]))
    full_raw = raw_ks(live, cand)
    half_raw = [raw_ks(a, b) for a, b in halves]
    print(f"holdout: {live.size} sales; raw KS v1 vs v2 = {full_raw:.4f}")
    for name, values in (("v1", live), ("v2", cand)):
        print(f"predictions {name}: {values.min():,.0f} to {values.max():,.0f}")
    print(
        f"\n{'range':<18} {'buckets':>7} {'KS buckets':>10} {'max gap (full)':>14} "
        f"{'max gap (halves)':>16} {'largest bucket mass':>19}"
    )
    rows = []
    recommendation: dict[str, int | None] = {}
    for low, high in RANGES:
        label = f"{low:,.0f}–{high:,.0f}"
        recommendation[label] = None
        for count in COUNTS:
            edges = log_spaced_edges(low, high, count)
            full = bucketed_ks(edges, live, cand)
            gap_full = max(
                full_raw - bucketed_ks(slid(low, high, count, k / OFFSETS), live, cand)
                for k in range(OFFSETS)
            )
            gaps = [
                r - bucketed_ks(edges, a, b) for (a, b), r in zip(halves, half_raw, strict=True)
            ]
            mass = max(max(histogram(edges, x).shares()) for x in (live, cand))
            row = {
                "low": low,
                "high": high,
                "buckets": count,
                "ks_buckets": full,
                "max_gap_full": gap_full,
                "max_gap_halves": max(gaps),
                "largest_bucket_mass": mass,
            }
            rows.append(row)
            if gap_full >= 0.01:
                recommendation[label] = None
            elif recommendation[label] is None:
                recommendation[label] = count
            print(
                f"{label:<18} {count:>7} {full:>10.4f} {gap_full:>14.4f} "
                f"{max(gaps):>16.4f} {mass:>19.4f}"
            )
    print(
        "\nsmallest count from which the full-holdout gap stays < 0.01:",
        json.dumps(recommendation, ensure_ascii=False),
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "bucket_edges.json"
    out.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "holdout": int(live.size),
                "raw_ks_full": full_raw,
                "splits": args.splits,
                "rows": rows,
                "recommendation": recommendation,
            },
            indent=2,
        )
    )
    print(f"wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
