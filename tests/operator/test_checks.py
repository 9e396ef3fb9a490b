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
