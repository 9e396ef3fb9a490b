"""A rollout to decide about in the core's unit tests: its spec, and a status in Shadowing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from understudy_operator.core import AnalysisStatus, Phase, RolloutSpec, RolloutStatus, parse_spec

T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


def make_spec(version: str = "2.0.0", **analysis: object) -> RolloutSpec:
    settings: dict[str, object] = {
        "interval": "10s",
        "warmup": "20s",
        "minSamples": 100,
        "successfulRuns": 3,
        "failureLimit": 2,
        "inconclusiveLimit": 3,
        "checks": [{"name": "agreement-rate", "min": 0.9}, {"name": "prediction-ks", "max": 0.1}],
    }
    settings.update(analysis)
    promotion = settings.pop("promotion", "automatic")
    return parse_spec(
        {
            "model": {"name": "house-prices", "version": version},
            "analysis": settings,
            "promotion": promotion,
        }
    )


SPEC = make_spec()


def shadowing(**analysis: object) -> RolloutStatus:
    """Shadowing 2.0.0 beside 1.0.0, started at T0, warmup over at T0+20s."""
    base = AnalysisStatus(started_at=T0, spec_fingerprint=SPEC.analysis_fingerprint())
    return RolloutStatus(
        phase=Phase.SHADOWING,
        stable_version="1.0.0",
        candidate_version="2.0.0",
        phase_since=T0,
        analysis=replace(base, **analysis),  # type: ignore[arg-type]
    )


# The first moment a run is due: the warmup (20s) is over.
AFTER_WARMUP = T0 + timedelta(seconds=25)
