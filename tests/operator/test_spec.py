"""parse_spec: defaults, durations and readable errors."""

from __future__ import annotations

import math

import pytest

from understudy_operator.core import (
    Check,
    Method,
    ModelRef,
    Promotion,
    RolloutSpec,
    SliceSettings,
    SpecError,
    parse_duration,
    parse_spec,
)
from understudy_operator.core.durations import format_duration
from understudy_operator.core.spec import DEFAULT_CHECKS

MINIMAL = {"model": {"name": "house-prices", "version": "2.0.0"}}
# Its analysis fingerprint. A new setting changes it, on purpose: then update it here,
# knowing that rollouts in flight restart their analysis after the upgrade.
# Changed once on purpose: the default checks changed (bias, slice-bias, latency-p90-ratio)
# and the analysis gained alpha, giveUpAfter, slices and detect, so an analysis in flight
# under the old defaults restarts under the new ones after the upgrade.
FINGERPRINT_OF_MINIMAL = "cd04ba04c0bcdacc"


def test_minimal_spec_gets_the_design_defaults() -> None:
    spec = parse_spec(MINIMAL)
    a = spec.analysis
    assert (a.interval_seconds, a.warmup_seconds, a.min_samples) == (30, 60, 500)
    assert (a.successful_runs, a.failure_limit, a.inconclusive_limit) == (5, 2, 10)
    assert a.checks == DEFAULT_CHECKS
    assert spec.promotion == Promotion.AUTOMATIC
    assert spec.shadow.mirror_percent == 100
    assert (spec.shadow.tolerance.relative, spec.shadow.tolerance.absolute) == (0.10, 10_000)
    assert (spec.shadow.live_timeout_seconds, spec.shadow.candidate_timeout_seconds) == (2, 2)
    assert (spec.replicas, spec.approved_version, spec.model.image) == (1, None, None)
    assert spec.router.config_map_name is None


def test_the_default_checks_are_the_documented_ones() -> None:
    # Written out, not compared with the module's own constant.
    checks = [(c.name, c.min, c.max, c.query) for c in parse_spec(MINIMAL).analysis.checks]
    assert checks == [
        ("candidate-error-rate", None, 0.01, None),
        ("latency-p90-ratio", None, 1.5, None),
        ("agreement-rate", 0.90, None, None),
        ("bias", -0.05, 0.05, None),
        ("slice-bias", -0.10, 0.10, None),
        ("prediction-ks", None, 0.10, None),
    ]


def test_a_spec_built_in_code_has_the_same_defaults_as_a_parsed_one() -> None:
    # The dataclasses' defaults and parse_spec's defaults are one set of numbers.
    assert RolloutSpec(model=ModelRef(name="house-prices", version="2.0.0")) == parse_spec(MINIMAL)


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
        ({"model": {"version": "2.0.0"}}, "spec.model.name: is required"),
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
        ("house-prices", "spec: must be an object, got str"),
        ({**MINIMAL, "replicas": 0}, "spec.replicas: must be >= 1, got 0"),
        ({**MINIMAL, "replicas": 101}, "spec.replicas: must be <= 100, got 101"),
        ({**MINIMAL, "shadow": {"mirrorPercent": -1}}, "mirrorPercent: must be >= 0"),
        ({**MINIMAL, "shadow": {"mirrorPercent": "50"}}, "mirrorPercent: must be a number"),
        ({**MINIMAL, "shadow": {"mirrorPercent": True}}, "mirrorPercent: must be a number"),
        ({**MINIMAL, "shadow": {"mirrorPercent": math.nan}}, "mirrorPercent: must be finite"),
        (
            {**MINIMAL, "shadow": {"tolerance": {"relative": -0.1}}},
            "spec.shadow.tolerance.relative: must be >= 0",
        ),
        (
            {**MINIMAL, "shadow": {"tolerance": {"absolute": -1}}},
            "spec.shadow.tolerance.absolute: must be >= 0",
        ),
        (
            {**MINIMAL, "shadow": {"timeouts": {"live": "0s"}}},
            "spec.shadow.timeouts.live: must be longer than 0",
        ),
        (
            {**MINIMAL, "shadow": {"timeouts": {"candidate": "2"}}},
            "spec.shadow.timeouts.candidate: '2' is not a duration",
        ),
        (
            {**MINIMAL, "router": {"configMapName": "Router_Config"}},
            "spec.router.configMapName: 'Router_Config' is not a valid ConfigMap name",
        ),
        (
            {**MINIMAL, "analysis": {"checks": "agreement-rate"}},
            "spec.analysis.checks: must be a list",
        ),
        (
            {**MINIMAL, "analysis": {"checks": ["agreement-rate"]}},
            "spec.analysis.checks[0]: must be an object, got str",
        ),
        (
            {**MINIMAL, "analysis": {"checks": [{"name": "p50", "query": " ", "max": 1}]}},
            "spec.analysis.checks[0] (p50).query: must not be empty",
        ),
        (
            {**MINIMAL, "analysis": {"checks": [{"name": "agreement-rate", "min": "high"}]}},
            "spec.analysis.checks[0].min: must be a number",
        ),
        (
            {
                **MINIMAL,
                "analysis": {"checks": [{"name": "prediction-ks", "max": 1, "interval": "0s"}]},
            },
            "spec.analysis.checks[0].interval: must be longer than 0",
        ),
        (
            {**MINIMAL, "analysis": {"checks": [{"name": "prediction-ks", "max": 1, "maxx": 2}]}},
            "spec.analysis.checks[0]: unknown field(s) maxx",
        ),
        (
            {**MINIMAL, "analysis": {"successfulRuns": 0}},
            "spec.analysis.successfulRuns: must be >= 1",
        ),
        ({**MINIMAL, "analysis": {"failureLimit": 0}}, "spec.analysis.failureLimit: must be >= 1"),
        (
            {**MINIMAL, "analysis": {"inconclusiveLimit": 0}},
            "spec.analysis.inconclusiveLimit: must be >= 1",
        ),
        ({**MINIMAL, "analysis": {"warmup": "soon"}}, "spec.analysis.warmup: 'soon' is not"),
        ({"model": {"name": "", "version": "1"}}, "spec.model.name: must be a non-empty string"),
        ({"model": {"name": "m", "version": 2}}, "spec.model.version: must be a non-empty string"),
        ({"model": {"name": "m" * 64, "version": "1"}}, "must be a DNS label"),
        ({"model": {"name": "m", "version": "1" * 64}}, "is not a version"),
        ({"model": {"name": "m", "version": "1", "tag": "x"}}, "spec.model: unknown field(s) tag"),
        (
            {**MINIMAL, "approvedVersion": "2.0.0 "},
            "spec.approvedVersion: '2.0.0 ' is not a version",
        ),
        ({**MINIMAL, "colour": "blue"}, "spec: unknown field(s) colour"),
        (
            {**MINIMAL, "analysis": {"checks": [{"max": 1}]}},
            "spec.analysis.checks[0].name: is required",
        ),
        ({**MINIMAL, "shadow": {"mirror": 50}}, "spec.shadow: unknown field(s) mirror"),
        (
            {**MINIMAL, "shadow": {"tolerance": {"rel": 0.1}}},
            "spec.shadow.tolerance: unknown field(s) rel",
        ),
        ({**MINIMAL, "shadow": {"timeouts": {"stable": "1s"}}}, "spec.shadow.timeouts: unknown"),
        ({**MINIMAL, "router": {"name": "x"}}, "spec.router: unknown field(s) name"),
        (
            {
                **MINIMAL,
                "analysis": {
                    "checks": [{"name": "prediction-ks", "max": 1, "method": "confidence"}]
                },
            },
            "spec.analysis.checks[0] (prediction-ks).method: built-in prediction-ks supports "
            "threshold, not confidence",
        ),
        (
            {
                **MINIMAL,
                "analysis": {
                    "checks": [{"name": "x", "query": "up", "max": 1, "method": "confidence"}]
                },
            },
            "(x).method: a custom query supports threshold, not confidence",
        ),
        (
            {**MINIMAL, "analysis": {"checks": [{"name": "bias", "max": 1, "method": "bayes"}]}},
            "(bias).method: 'bayes' must be one of confidence, threshold",
        ),
        (
            {**MINIMAL, "analysis": {"checks": [{"name": "sample-count", "min": 1}]}},
            "unknown built-in check 'sample-count'",
        ),
        ({**MINIMAL, "analysis": {"alpha": 0.7}}, "spec.analysis.alpha: must be <= 0.5"),
        (
            {**MINIMAL, "analysis": {"checks": [{"name": "label-coverage", "max": 10}]}},
            "(label-coverage): label-coverage is a gate: give 'min' (labelled records), no 'max'",
        ),
        ({**MINIMAL, "analysis": {"giveUpAfter": "0s"}}, "spec.analysis.giveUpAfter: must be"),
        (
            {**MINIMAL, "analysis": {"slices": {"predictionEdges": [200000, 100000]}}},
            "spec.analysis.slices.predictionEdges: must be strictly increasing",
        ),
        (
            {**MINIMAL, "analysis": {"slices": {"predictionEdges": [1e5], "field": "Zone"}}},
            "spec.analysis.slices: give predictionEdges or field, not both",
        ),
        (
            {**MINIMAL, "analysis": {"slices": {"field": "a b"}}},
            "spec.analysis.slices.field: must be 1-64 letters, digits",
        ),
        (
            {**MINIMAL, "analysis": {"slices": {"field": "prediction"}}},
            "spec.analysis.slices.field: 'prediction' is a slice the router always exports",
        ),
        (
            {**MINIMAL, "analysis": {"slices": {"minSamplesPerSlice": 0}}},
            "spec.analysis.slices.minSamplesPerSlice: must be >= 1",
        ),
        (
            {**MINIMAL, "analysis": {"detect": {"bias": 0.01}}},
            "spec.analysis.detect.bias: detect names a rate check of this analysis",
        ),
        (
            {**MINIMAL, "analysis": {"detect": {"agreement-rate": 1.5}}},
            "spec.analysis.detect.agreement-rate: the effect must be inside (0, 1)",
        ),
        (
            {**MINIMAL, "analysis": {"minSamples": 10, "detect": {"agreement-rate": 0.05}}},
            "spec.analysis: give minSamples or detect (which derives it), not both",
        ),
    ],
)
def test_invalid_specs_are_rejected_with_the_field_and_the_reason(spec: dict, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(spec)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "extra",
    [
        {"replicas": 1},
        {"replicas": 100},
        {"shadow": {"mirrorPercent": 0}},
        {"shadow": {"mirrorPercent": 100}},
        {"shadow": {"tolerance": {"relative": 0, "absolute": 0}}},
        {"analysis": {"minSamples": 0, "successfulRuns": 1, "failureLimit": 1}},
        {"analysis": {"inconclusiveLimit": 1}},
        {"analysis": {"checks": [{"name": "agreement-rate", "min": 0.9, "max": 0.9}]}},
        {"router": {"configMapName": "router.config-1"}},
    ],
)
def test_values_at_the_edge_of_their_range_are_accepted(extra: dict) -> None:
    parse_spec({**MINIMAL, **extra})


def test_numbers_are_floats_and_counts_are_ints() -> None:
    spec = parse_spec(
        {
            **MINIMAL,
            "replicas": 3,
            "shadow": {"mirrorPercent": 50, "tolerance": {"relative": 1, "absolute": 500}},
            "analysis": {"minSamples": 7, "checks": [{"name": "prediction-ks", "max": 1}]},
        }
    )
    numbers = [spec.shadow.mirror_percent, spec.shadow.tolerance.relative]
    numbers += [spec.shadow.tolerance.absolute, spec.analysis.checks[0].max]
    assert [type(n) for n in numbers] == [float] * 4
    assert (spec.replicas, spec.analysis.min_samples) == (3, 7)
    assert type(spec.replicas) is int


def test_every_setting_is_read_from_its_camel_case_key() -> None:
    spec = parse_spec(
        {
            "model": {"name": "house-prices", "version": "2.0.0", "image": "model-api:2"},
            "replicas": 4,
            "shadow": {
                "mirrorPercent": 25,
                "tolerance": {"relative": 0.3, "absolute": 70},
                "timeouts": {"live": "1s", "candidate": "3s"},
            },
            "analysis": {
                "interval": "15s",
                "warmup": "45s",
                "minSamples": 11,
                "successfulRuns": 12,
                "failureLimit": 13,
                "inconclusiveLimit": 14,
            },
            "promotion": "manual",
            "approvedVersion": "2.0.0",
            "router": {"configMapName": "my-router"},
        }
    )
    assert spec.model.image == "model-api:2"
    assert spec.replicas == 4
    s = spec.shadow
    assert (s.mirror_percent, s.tolerance.relative, s.tolerance.absolute) == (25, 0.3, 70)
    assert (s.live_timeout_seconds, s.candidate_timeout_seconds) == (1, 3)
    a = spec.analysis
    assert (a.interval_seconds, a.warmup_seconds, a.min_samples) == (15, 45, 11)
    assert (a.successful_runs, a.failure_limit, a.inconclusive_limit) == (12, 13, 14)
    assert spec.router.config_map_name == "my-router"


def test_fingerprint_of_a_spec_is_stable_across_releases() -> None:
    # Stored in every status: a new operator computing another hash for the same spec
    # would restart every analysis in flight.
    assert parse_spec(MINIMAL).analysis_fingerprint() == FINGERPRINT_OF_MINIMAL


def test_fingerprint_changes_with_the_model_and_shadow_settings() -> None:
    base = parse_spec(MINIMAL).analysis_fingerprint()
    image = parse_spec({"model": {**MINIMAL["model"], "image": "model-api:2"}})
    shadow = parse_spec({**MINIMAL, "shadow": {"mirrorPercent": 50}})
    assert image.analysis_fingerprint() != base
    assert shadow.analysis_fingerprint() != base


def test_fingerprint_changes_with_analysis_settings_but_not_replicas() -> None:
    base = parse_spec(MINIMAL)
    assert (
        base.analysis_fingerprint() == parse_spec({**MINIMAL, "replicas": 3}).analysis_fingerprint()
    )
    other = parse_spec({**MINIMAL, "analysis": {"minSamples": 1}})
    assert base.analysis_fingerprint() != other.analysis_fingerprint()


def test_detect_derives_min_samples_from_the_detectable_effect() -> None:
    # agreement-rate >= 0.9 (a default check); a true 0.95 must pass about half the time at
    # n: core/statistics/README.md gives 262 for this case, 55 for 0.99.
    spec = parse_spec({**MINIMAL, "analysis": {"detect": {"agreement-rate": 0.05}}})
    assert spec.analysis.min_samples == 262
    spec = parse_spec({**MINIMAL, "analysis": {"detect": {"agreement-rate": 0.09}}})
    assert spec.analysis.min_samples == 55


def test_slices_and_methods_are_typed() -> None:
    spec = parse_spec(
        {
            **MINIMAL,
            "analysis": {
                "alpha": 0.01,
                "giveUpAfter": "10m",
                "slices": {"predictionEdges": [150000, 300000], "minSamplesPerSlice": 80},
                "checks": [{"name": "bias", "min": -0.05, "max": 0.05, "method": "threshold"}],
            },
        }
    )
    a = spec.analysis
    assert (a.alpha, a.give_up_after_seconds) == (0.01, 600.0)
    assert a.slices == SliceSettings(prediction_edges=(150000.0, 300000.0), min_samples=80)
    assert a.checks[0].method is Method.THRESHOLD
    assert a.judging.alpha == 0.01


def test_a_classifier_gets_checks_without_price_ratios_and_may_not_ask_for_them() -> None:
    classifier = {"model": {**MINIMAL["model"], "task": "classification"}}
    spec = parse_spec(classifier)
    names = [c.name for c in spec.analysis.checks]
    assert spec.model.task == "classification"
    assert "bias" not in names and "slice-bias" not in names
    assert {"candidate-error-rate", "agreement-rate", "prediction-ks"} <= set(names)
    # A regression (also when said explicitly) keeps the old defaults and fingerprint.
    explicit = parse_spec({"model": {**MINIMAL["model"], "task": "regression"}})
    assert explicit.analysis.checks == DEFAULT_CHECKS
    assert explicit.analysis_fingerprint() == FINGERPRINT_OF_MINIMAL
    with pytest.raises(SpecError, match=r"bias, slice-bias judge the relative difference"):
        parse_spec(
            {
                **classifier,
                "analysis": {
                    "checks": [{"name": "bias", "max": 0.1}, {"name": "slice-bias", "max": 0.1}]
                },
            }
        )
    with pytest.raises(SpecError, match="task"):
        parse_spec({"model": {**MINIMAL["model"], "task": "ranking"}})
