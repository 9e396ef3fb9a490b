"""parse_spec: defaults, durations and readable errors."""

from __future__ import annotations

import pytest

from understudy_operator.core import Check, Promotion, SpecError, parse_duration, parse_spec
from understudy_operator.core.durations import format_duration
from understudy_operator.core.spec import DEFAULT_CHECKS

MINIMAL = {"model": {"name": "house-prices", "version": "2.0.0"}}


def test_minimal_spec_gets_the_design_defaults() -> None:
    spec = parse_spec(MINIMAL)
    a = spec.analysis
    assert (a.interval_seconds, a.warmup_seconds, a.min_samples) == (30, 60, 500)
    assert (a.successful_runs, a.failure_limit, a.inconclusive_limit) == (5, 2, 10)
    assert a.checks == DEFAULT_CHECKS
    assert spec.promotion == Promotion.AUTOMATIC
    assert spec.shadow.mirror_percent == 100
    assert (spec.shadow.tolerance.relative, spec.shadow.tolerance.absolute) == (0.10, 10_000)


def test_full_spec_is_typed() -> None:
    spec = parse_spec(
        {
            "model": {"name": "house-prices", "version": "2.0.0", "image": "model-api:2.0.0"},
            "replicas": 2,
            "shadow": {"mirrorPercent": 50, "tolerance": {"relative": 0.2, "absolute": 5000}},
            "analysis": {
                "interval": "1m30s",
                "warmup": "0s",
                "minSamples": 10,
                "checks": [
                    {"name": "agreement-rate", "min": 0.9, "interval": "2m"},
                    {"name": "p50", "query": "sum(x{v='{{ candidate }}'})", "max": 5},
                ],
            },
            "promotion": "manual",
            "approvedVersion": "2.0.0",
        }
    )
    assert spec.analysis.interval_seconds == 90
    assert spec.analysis.warmup_seconds == 0
    assert spec.analysis.checks[0] == Check(name="agreement-rate", min=0.9, interval_seconds=120)
    assert spec.analysis.checks[1].query == "sum(x{v='{{ candidate }}'})"
    assert spec.promotion == Promotion.MANUAL
    assert spec.approved_version == "2.0.0"


@pytest.mark.parametrize(
    ("text", "seconds"), [("500ms", 0.5), ("30s", 30), ("2m", 120), ("1h", 3600), ("1m30s", 90)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("seconds", "text"), [(30, "30s"), (120, "2m"), (3600, "1h"), (1.5, "1500ms")]
)
def test_format_duration_is_prometheus_syntax(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "spec.model: is required"),
        ({"model": {"name": "house-prices"}}, "spec.model.version: is required"),
        ({"model": {"name": "House_Prices", "version": "1"}}, "must be a DNS label"),
        ({"model": {"name": "m", "version": "1 0"}}, "is not a version"),
        (
            {**MINIMAL, "analysis": {"interval": "30"}},
            "spec.analysis.interval: '30' is not a duration",
        ),
        ({**MINIMAL, "analysis": {"interval": "0s"}}, "must be longer than 0"),
        ({**MINIMAL, "analysis": {"minSamples": -1}}, "spec.analysis.minSamples: must be >= 0"),
        ({**MINIMAL, "analysis": {"minSamples": 1.5}}, "must be an integer"),
        ({**MINIMAL, "replicas": True}, "spec.replicas: must be an integer"),
        ({**MINIMAL, "shadow": {"mirrorPercent": 101}}, "mirrorPercent: must be <= 100"),
        ({**MINIMAL, "promotion": "yolo"}, "must be one of automatic, manual"),
        ({**MINIMAL, "analysis": {"checks": [{"name": "agreement-rate"}]}}, "give 'min', 'max'"),
        ({**MINIMAL, "analysis": {"checks": [{"name": "accuracy", "min": 1}]}}, "unknown built-in"),
        (
            {**MINIMAL, "analysis": {"checks": [{"name": "x", "query": "{{ modle }}", "max": 1}]}},
            "unknown template variable(s) modle",
        ),
        (
            {**MINIMAL, "analysis": {"checks": [{"name": "agreement-rate", "min": 1, "max": 0}]}},
            "min 1.0 is greater than max 0.0",
        ),
        (
            {
                **MINIMAL,
                "analysis": {
                    "checks": [
                        {"name": "prediction-ks", "max": 1},
                        {"name": "prediction-ks", "max": 2},
                    ]
                },
            },
            "duplicate check names prediction-ks",
        ),
        ({**MINIMAL, "analysis": {"checks": []}}, "give at least one check"),
        (
            {**MINIMAL, "analysis": {"intervall": "30s"}},
            "spec.analysis: unknown field(s) intervall",
        ),
        ({**MINIMAL, "shadow": "all"}, "spec.shadow: must be an object"),
    ],
)
def test_invalid_specs_are_rejected_with_the_field_and_the_reason(spec: dict, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(spec)
    assert message in str(caught.value)


def test_fingerprint_changes_with_analysis_settings_but_not_replicas() -> None:
    base = parse_spec(MINIMAL)
    assert (
        base.analysis_fingerprint() == parse_spec({**MINIMAL, "replicas": 3}).analysis_fingerprint()
    )
    other = parse_spec({**MINIMAL, "analysis": {"minSamples": 1}})
    assert base.analysis_fingerprint() != other.analysis_fingerprint()
