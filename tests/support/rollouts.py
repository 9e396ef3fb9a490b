"""A rollout to decide about in the core's unit tests: its spec, and a status in Shadowing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from understudy_operator.core import (
    AnalysisStatus,
    Phase,
    RolloutSpec,
    RolloutStatus,
    Vector,
    parse_spec,
)

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


# Evidence as a metrics source hands it to the core (core/evidence.py), for SPEC's checks.


def agreement(rate: float, records: int = 1000) -> dict[str, Vector]:
    """agreement-rate evidence: ``records`` compared, ``rate`` of them agreeing."""
    agreed = round(rate * records)
    return {"compared": Vector({("true",): agreed, ("false",): records - agreed})}


def ks(distance: float, records: int = 1000) -> dict[str, Vector]:
    """prediction-ks evidence whose KS distance is exactly ``distance`` (one edge at 1.0:
    half the live predictions below it, half plus ``distance`` of the candidate's)."""
    half = records / 2
    return {
        "live": Vector({("1.0",): half, ("+Inf",): records}),
        "candidate": Vector({("1.0",): half + distance * records, ("+Inf",): records}),
    }
