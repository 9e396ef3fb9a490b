"""Writing one benchmark run's JSON to bench/results/, stamped the same way by every script
that uses it: when, host, CPUs and the load average before and after the run."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


def write_run(
    name: str,
    document: dict[str, Any],
    *,
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> Path:
    """bench/results/<name>-<UTC time>.json: the stamp, then ``document``; prints its path."""
    now = datetime.now(UTC)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}-{now:%Y%m%dT%H%M%SZ}.json"
    stamp = {
        "when": now.isoformat(),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": load_after,
    }
    out.write_text(json.dumps({**stamp, **document}, indent=2))
    print(f"\nwrote {out.relative_to(REPO)}")
    return out
