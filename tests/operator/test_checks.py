"""Check templates and evaluate(): thresholds, no data and errors are never a pass."""

from __future__ import annotations

import math

import pytest

from understudy_operator.core import (
    BUILTIN_CHECKS,
    BUILTIN_QUERIES,
    Check,
    NoData,
    QueryContext,
    QueryFailed,
    Value,
    Verdict,
    evaluate,
    render,
)
from understudy_operator.core.checks import template_variables

CTX = QueryContext(
    model="house-prices", namespace="ml", stable="1.0.0", candidate="2.0.0", interval="30s"
)


def test_every_builtin_named_in_the_contract_has_a_query() -> None:
    assert {
        "candidate-error-rate",
        "latency-p99-ratio",
        "agreement-rate",
        "prediction-ks",
        "sample-count",
    } == BUILTIN_CHECKS


@pytest.mark.parametrize("name", sorted(BUILTIN_QUERIES))
def test_builtin_queries_render_completely(name: str) -> None:
    promql = render(BUILTIN_QUERIES[name], CTX)
    assert "{{" not in promql and "}}" not in promql
    assert 'model="house-prices"' in promql
    assert 'candidate_version="2.0.0"' in promql or 'version="2.0.0"' in promql
    # this namespace's series, or series without one (a local Prometheus): never another's
    assert promql.count('namespace=~"ml|"') == promql.count("understudy_router_")


def test_agreement_rate_divides_agreeing_records_by_all_records_of_the_candidate() -> None:
    promql = render(BUILTIN_QUERIES["agreement-rate"], CTX)
    assert promql == (
        '(sum(increase(understudy_router_compared_records_total{namespace=~"ml|",'
        'model="house-prices",candidate_version="2.0.0",agree="true"}[30s])) or vector(0)) / '
        'sum(increase(understudy_router_compared_records_total{namespace=~"ml|",'
        'model="house-prices",candidate_version="2.0.0"}[30s]))'
    )


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


# The PromQL of every built-in, written out: the metric names, labels and outcomes of
# docs/contracts.md, this namespace's series or unlabelled ones, `or vector(0)` on
# numerators only.
_SEL = 'namespace=~"ml|",model="house-prices"'
RENDERED = {
    "candidate-error-rate": (
        f'(sum(increase(understudy_router_mirror_total{{{_SEL},candidate_version="2.0.0",'
        'outcome=~"candidate_error|candidate_timeout"}[30s])) or vector(0)) / '
        f'sum(increase(understudy_router_mirror_total{{{_SEL},candidate_version="2.0.0",'
        'outcome!="dropped"}[30s]))'
    ),
    "latency-p99-ratio": (
        "histogram_quantile(0.99, sum by (le) (rate(understudy_router_upstream_duration_seconds"
        f'_bucket{{{_SEL},role="candidate",version="2.0.0"}}[30s]))) / '
        "histogram_quantile(0.99, sum by (le) (rate(understudy_router_upstream_duration_seconds"
        f'_bucket{{{_SEL},role="live",version="1.0.0"}}[30s])))'
    ),
    "prediction-ks": (
        f"max(understudy_router_prediction_ks_statistic{{{_SEL},"
        'live_version="1.0.0",candidate_version="2.0.0"})'
    ),
    "sample-count": (
        f'(sum(understudy_router_compared_records_total{{{_SEL},candidate_version="2.0.0"}}) '
        "or vector(0)) + "
        f'(sum(understudy_router_mirror_total{{{_SEL},candidate_version="2.0.0",'
        'outcome=~"candidate_error|candidate_timeout"}) or vector(0))'
    ),
}


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_builtin_query_is_exactly_the_contracts(name: str) -> None:
    assert render(BUILTIN_QUERIES[name], CTX) == RENDERED[name]
    assert render(Check(name=name, max=1).template, CTX) == RENDERED[name]


def test_a_custom_check_uses_its_own_query() -> None:
    custom = Check(name="agreement-rate", min=1, query="up")
    assert (custom.builtin, custom.template) == (False, "up")
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
