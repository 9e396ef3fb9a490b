"""Check templates and evaluate(): thresholds, no data and errors are never a pass."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from understudy_operator.core import (
    BUILTIN_CHECKS,
    BUILTINS,
    Check,
    Judging,
    Method,
    NoData,
    QueryContext,
    QueryFailed,
    SliceSettings,
    Value,
    Verdict,
    Window,
    evaluate,
    render,
)
from understudy_operator.core.checks import template_variables

CTX = QueryContext(
    model="house-prices", namespace="ml", stable="1.0.0", candidate="2.0.0", interval="30s"
)


def test_every_builtin_named_in_the_contract_has_evidence_and_a_judge() -> None:
    assert (
        {
            "candidate-error-rate",
            "latency-p50-ratio",
            "latency-p90-ratio",
            "latency-p99-ratio",
            "agreement-rate",
            "bias",
            "slice-agreement",
            "slice-bias",
            "prediction-ks",
            "prediction-psi",
            "prediction-wasserstein",
            "realized-error-ratio",
            "realized-rmse-ratio",
            "label-coverage",
            "input-drift",
            "stable-input-drift",
            "sample-count",
        }
        == BUILTIN_CHECKS
        == set(BUILTINS)
    )


def _all_promql(name: str, method: Method | None) -> Iterator[str]:
    check = Check(name=name, max=1, method=method)
    for judging in (Judging(), Judging(slices=SliceSettings(field="Neighborhood"))):
        for query in BUILTINS[name].parts(check, judging).values():
            yield query.promql(CTX, range_="30s")


@pytest.mark.parametrize("name", sorted(BUILTIN_CHECKS))
@pytest.mark.parametrize("method", [None, Method.THRESHOLD])
def test_builtin_evidence_renders_completely(name: str, method: Method | None) -> None:
    for promql in _all_promql(name, method):
        assert "{{" not in promql and "}}" not in promql
        assert 'model="house-prices"' in promql
        # about this candidate, or about the live side of this pair (the router's role
        # label; the stable model-api's own series for stable-input-drift)
        stable = 'role="live",version="1.0.0"' if "router" in promql else 'version="1.0.0"'
        assert 'version="2.0.0"' in promql or stable in promql
        # this namespace's series, or series without one (a local Prometheus): never another's
        # one selector, written once, twice or three times (now, offset, born since)
        selectors = promql.count("understudy_router_") + promql.count("understudy_model_api_")
        assert promql.count('namespace=~"ml|"') == selectors >= 1


def test_agreement_rate_counts_records_by_agreement_since_the_analysis_started() -> None:
    check = Check("agreement-rate", min=0.9)
    (query,) = BUILTINS["agreement-rate"].parts(check, Judging()).values()
    series = (
        "understudy_router_compared_records_total{"
        'namespace=~"ml|",model="house-prices",candidate_version="2.0.0"}'
    )
    assert query.promql(CTX, range_="95s") == (
        f"sum by (agree) ((({series} - {series} offset 95s) >= 0) or {series})"
    )
    assert query.window is Window.ANALYSIS
    threshold = Check("agreement-rate", min=0.9, method=Method.THRESHOLD)
    (query,) = BUILTINS["agreement-rate"].parts(threshold, Judging()).values()
    assert query.window is Window.INTERVAL


def test_the_sample_count_reads_counter_totals() -> None:
    parts = BUILTINS["sample-count"].parts(Check("sample-count"), Judging())
    assert {k: q.promql(CTX, range_="ignored") for k, q in parts.items()} == {
        "compared": (
            "sum (understudy_router_compared_records_total{"
            'namespace=~"ml|",model="house-prices",candidate_version="2.0.0"})'
        ),
        "failed": (
            "sum (understudy_router_mirror_total{"
            'namespace=~"ml|",model="house-prices",candidate_version="2.0.0",'
            'outcome=~"candidate_error|candidate_timeout"})'
        ),
    }


def test_matchers_follow_promql_rules_for_absent_labels_and_anchored_regexes() -> None:
    query = BUILTINS["sample-count"].parts(Check("sample-count"), Judging())["failed"]
    labels = {"model": "house-prices", "candidate_version": "2.0.0", "outcome": "candidate_error"}
    assert query.matches("understudy_router_mirror_total", labels, CTX)  # no namespace: ok
    assert query.matches("understudy_router_mirror_total", {**labels, "namespace": "ml"}, CTX)
    assert not query.matches("understudy_router_mirror_total", {**labels, "namespace": "x"}, CTX)
    assert not query.matches(
        "understudy_router_mirror_total", {**labels, "outcome": "candidate_error_x"}, CTX
    )
    assert not query.matches("understudy_router_mirror", labels, CTX)


def test_custom_query_variables_are_filled() -> None:
    template = (
        'x{m="{{model}}",ns="{{ namespace }}",s="{{ stable }}",c="{{ candidate }}"}[{{ interval }}]'
    )
    assert template_variables(template) == {"model", "namespace", "stable", "candidate", "interval"}
    assert render(template, CTX) == 'x{m="house-prices",ns="ml",s="1.0.0",c="2.0.0"}[30s]'


def test_render_rejects_unknown_variables() -> None:
    with pytest.raises(ValueError, match="unknown template variable"):
        render("{{ version }}", CTX)


@pytest.mark.parametrize(
    ("check", "value", "verdict"),
    [
        (Check(name="agreement-rate", min=0.9), 0.95, Verdict.PASS),
        (Check(name="agreement-rate", min=0.9), 0.9, Verdict.PASS),
        (Check(name="agreement-rate", min=0.9), 0.89, Verdict.FAIL),
        (Check(name="prediction-ks", max=0.1), 0.1, Verdict.PASS),
        (Check(name="prediction-ks", max=0.1), 0.11, Verdict.FAIL),
        (Check(name="c", query="q", min=1, max=2), 0.5, Verdict.FAIL),
        (Check(name="c", query="q", min=1, max=2), 2.5, Verdict.FAIL),
        (Check(name="c", query="q", min=1, max=2), 1.5, Verdict.PASS),
    ],
)
def test_value_against_thresholds(check: Check, value: float, verdict: Verdict) -> None:
    result = evaluate(check, Value(value))
    assert result.verdict == verdict
    assert result.value == value


def test_failure_message_names_the_check_value_and_bound() -> None:
    result = evaluate(Check(name="agreement-rate", min=0.9), Value(0.41))
    assert result.message == "agreement-rate 0.41 is outside min 0.9"
    assert result.threshold == ">= 0.9"


@pytest.mark.parametrize(
    "measurement", [NoData("no series"), QueryFailed("connection refused"), Value(math.nan)]
)
def test_no_data_error_and_nan_are_inconclusive_never_pass(measurement: object) -> None:
    # A check with no bounds at all would pass any value; it still may not pass on no data.
    for check in (Check(name="agreement-rate", min=0.0), Check(name="prediction-ks", max=1e9)):
        result = evaluate(check, measurement)  # type: ignore[arg-type]
        assert result.verdict == Verdict.INCONCLUSIVE
        assert result.value is None


def test_a_custom_check_uses_its_own_query() -> None:
    custom = Check(name="agreement-rate", min=1, query="up")
    assert (custom.builtin, custom.query) == (False, "up")
    assert Check(name="agreement-rate", min=1).builtin


def test_render_names_the_unknown_variable_and_the_known_ones() -> None:
    with pytest.raises(ValueError) as caught:
        render("{{ version }}", CTX)
    assert str(caught.value) == (
        "unknown template variable {{ version }}; known: model, namespace, stable, candidate, "
        "interval"
    )


@pytest.mark.parametrize(
    ("check", "threshold"),
    [
        (Check(name="c", min=0.1, max=0.5), "0.1..0.5"),
        (Check(name="c", max=0.01), "<= 0.01"),
        (Check(name="c", min=0.9), ">= 0.9"),
        (Check(name="c", min=0, max=0), "0..0"),
        (Check(name="c"), "none"),
        (Check(name="c", max=1234567.0), "<= 1.235e+06"),
        (Check(name="c", max=1234567), "<= 1234567"),  # an int reads as written (format_number)
    ],
)
def test_threshold_reads_as_people_write_bounds(check: Check, threshold: str) -> None:
    assert check.threshold == threshold


def test_a_zero_bound_is_a_bound() -> None:
    # 0 is falsy: a bound of 0 must still be checked, on either side.
    assert evaluate(Check(name="c", max=0), Value(0.001)).verdict == Verdict.FAIL
    assert evaluate(Check(name="c", min=0), Value(-0.001)).verdict == Verdict.FAIL
    assert evaluate(Check(name="c", max=0), Value(0)).verdict == Verdict.PASS


def test_messages_say_why() -> None:
    check = Check(name="prediction-ks", max=0.1)
    assert evaluate(check, Value(0.25)).message == "prediction-ks 0.25 is outside max 0.1"
    assert evaluate(check, Value(0.05)).message == "prediction-ks 0.05 within <= 0.1"
    assert evaluate(check, NoData("no series")).message == "no data: no series"
    assert evaluate(check, NoData()).message == "no data: the query returned no samples"
    assert evaluate(check, QueryFailed("timeout")).message == "query failed: timeout"
    assert evaluate(check, Value(math.inf)).message == "no data: value is inf"


def test_every_result_carries_the_checks_name_and_threshold() -> None:
    check = Check(name="prediction-ks", max=0.1)
    for measurement in (Value(0.05), Value(0.5), Value(math.nan), NoData(), QueryFailed("x")):
        result = evaluate(check, measurement)
        assert (result.name, result.threshold) == ("prediction-ks", "<= 0.1")
