"""Short analysis settings for whole local rollouts (`understudy demo` / `understudy shadow`).

The tests that run one are about a mechanism, not the thresholds: a run every 2 s once 60
samples exist, 3 passing runs promote, 2 failing ones roll back. One place, so the three
suites that start such rollouts cannot drift apart.
"""

from __future__ import annotations

from typing import Any

# Candidate failures: the one check every local rollout keeps.
ERROR_RATE = {"name": "candidate-error-rate", "max": 0.01}
# The p90 latency ratio by its point value. A 2-second run sees ~100 requests a role, too
# few for a p99 bound, and the p90's order-statistic interval over 100 spans ranks 84-96;
# with live answering in ~0.4 ms since issue 16, that interval reached from the fast mode
# into the slow tail (upper bounds 5-12 for 30 runs in a row, no decision, 2026-11-30).
# The interval method is the packaged settings' (12 s intervals) and the core tests'.
LATENCY_P90_POINT = {"name": "latency-p90-ratio", "max": 5.0, "method": "threshold"}


def fast_spec(
    *,
    checks: list[dict[str, Any]],
    model: dict[str, Any] | None = None,
    tolerance: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "model": model or {"name": "house-prices", "version": "2.0.0"},
        "shadow": {
            "mirrorPercent": 100,
            "tolerance": tolerance or {"relative": 0.10, "absolute": 10000},
        },
        "analysis": {
            "interval": "2s",
            "warmup": "1s",
            "minSamples": 60,
            "successfulRuns": 3,
            "failureLimit": 2,
            "inconclusiveLimit": 5,
            "checks": [ERROR_RATE, *checks],
        },
    }
