"""Short analysis settings for whole local rollouts (`understudy demo` / `understudy shadow`).

The tests that run one are about a mechanism, not the thresholds: a run every 2 s once 60
samples exist, 3 passing runs promote, 2 failing ones roll back. One place, so the three
suites that start such rollouts cannot drift apart.
"""

from __future__ import annotations

from typing import Any

# Candidate failures: the one check every local rollout keeps.
ERROR_RATE = {"name": "candidate-error-rate", "max": 0.01}


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
