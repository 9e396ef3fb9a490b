"""The Prometheus provider against a real Prometheus scraping a real exporter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from tests.support.prometheus import PrometheusServer
from understudy_operator.core import (
    BUILTINS,
    Check,
    Judging,
    NoData,
    QueryContext,
    QueryFailed,
    SliceSettings,
    Vector,
)
from understudy_operator.providers.base import NoDataError, QueryError
from understudy_operator.providers.prometheus import PrometheusProvider
from understudy_operator.providers.promql import PromQLSource

pytestmark = pytest.mark.integration

CTX = QueryContext(
    model="house-prices", namespace="t", stable="1.0.0", candidate="2.0.0", interval="1m"
)


@pytest.fixture(scope="module")
def exporter() -> Iterator[str]:
    """An HTTP exporter with router-shaped series whose values the tests know."""
    registry = CollectorRegistry()
    compared = Counter(
        "understudy_router_compared_records",
        "records compared",
        ["model", "candidate_version", "agree"],
        registry=registry,
    )
    compared.labels("house-prices", "2.0.0", "true").inc(90)
    compared.labels("house-prices", "2.0.0", "false").inc(10)
    ks = Gauge(
        "understudy_router_prediction_ks_statistic",
        "ks",
        ["model", "live_version", "candidate_version"],
        registry=registry,
    )
    ks.labels("house-prices", "1.0.0", "2.0.0").set(0.04)
    ks.labels("other", "1.0.0", "2.0.0").set(0.5)
    ks.labels("other", "1.0.0", "3.0.0").set(0.6)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def other_namespace_exporter() -> Iterator[str]:
    """The same model and versions, as a cluster's scrape would label them in another
    namespace: its evidence must never count for a rollout in namespace "t"."""
    registry = CollectorRegistry()
    ks = Gauge(
        "understudy_router_prediction_ks_statistic",
        "ks",
        ["namespace", "model", "live_version", "candidate_version"],
        registry=registry,
    )
    ks.labels("elsewhere", "house-prices", "1.0.0", "2.0.0").set(0.9)
    compared = Counter(
        "understudy_router_compared_records",
        "records compared",
        ["namespace", "model", "candidate_version", "agree"],
        registry=registry,
    )
    compared.labels("elsewhere", "house-prices", "2.0.0", "true").inc(1000)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def prometheus(
    tmp_path_factory: pytest.TempPathFactory, exporter: str, other_namespace_exporter: str
) -> Iterator[PrometheusServer]:
    with PrometheusServer(tmp_path_factory.mktemp("prometheus")) as prom:
        prom.set_targets([exporter, other_namespace_exporter])
        # Each target's own first scrape, not any matching series: both exporters carry a
        # house-prices KS series, so waiting on that selector once raced the first tests.
        prom.wait_until_scraped([exporter, other_namespace_exporter])
        yield prom


@pytest.fixture
def provider(prometheus: PrometheusServer) -> Iterator[PrometheusProvider]:
    p = PrometheusProvider(url=prometheus.url, timeout_seconds=5)
    yield p
    p.close()


def test_a_gauge_value_comes_back(provider: PrometheusProvider) -> None:
    series = 'understudy_router_prediction_ks_statistic{model="house-prices",namespace=""}'
    assert provider.query(series) == 0.04


def test_scalar_results_are_values(provider: PrometheusProvider) -> None:
    assert provider.query("scalar(vector(2.5))") == 2.5


def _samples(ctx: QueryContext, provider: PrometheusProvider) -> dict[str, object]:
    source = PromQLSource(provider)
    parts = BUILTINS["sample-count"].parts(Check("sample-count"), Judging())
    return {name: source.fetch(query, ctx) for name, query in parts.items()}


def test_builtin_evidence_sums_the_counters(provider: PrometheusProvider) -> None:
    assert _samples(CTX, provider) == {"compared": Vector({(): 100.0}), "failed": Vector({})}


def test_evidence_is_keyed_by_its_labels(provider: PrometheusProvider) -> None:
    promql = 'sum by (agree) (understudy_router_compared_records_total{namespace=""})'
    assert provider.vector(promql, ("agree",)) == {("true",): 90.0, ("false",): 10.0}


def test_another_namespaces_series_do_not_count(provider: PrometheusProvider) -> None:
    # Without the namespace matcher, "t"'s sum would take the other namespace's 1000; the
    # other namespace's takes its own series and the unlabelled ones (a local Prometheus).
    elsewhere = QueryContext(
        model="house-prices",
        namespace="elsewhere",
        stable="1.0.0",
        candidate="2.0.0",
        interval="1m",
    )
    assert _samples(elsewhere, provider)["compared"] == Vector({(): 1100.0})
    assert _samples(CTX, provider)["compared"] == Vector({(): 100.0})


def test_no_series_is_no_data(provider: PrometheusProvider) -> None:
    with pytest.raises(NoDataError, match="no series"):
        provider.query('understudy_router_prediction_ks_statistic{model="nobody"}')
    measured = PromQLSource(provider).measure(
        Check(name="x", query='sum(understudy_router_x{model="nobody"})', max=0.1), CTX
    )
    assert isinstance(measured, NoData)
    # Evidence with no series is an empty vector: the check decides how to read it.
    assert _samples(QueryContext("nobody", "t", "1", "2", "1m"), provider) == {
        "compared": Vector({}),
        "failed": Vector({}),
    }


def test_nan_is_no_data(provider: PrometheusProvider) -> None:
    with pytest.raises(NoDataError, match="NaN"):
        provider.query("vector(0) / vector(0)")


def test_bad_promql_is_a_query_error(provider: PrometheusProvider) -> None:
    with pytest.raises(QueryError, match="bad_data"):
        provider.query("sum(rate(understudy_router_compared_records_total[1m]")
    measured = PromQLSource(provider).measure(Check(name="x", query="sum(", max=1), CTX)
    assert isinstance(measured, QueryFailed)


def test_several_series_are_a_query_error(provider: PrometheusProvider) -> None:
    with pytest.raises(QueryError, match="2 series"):
        provider.query('understudy_router_prediction_ks_statistic{model="other"}')


def test_range_vectors_are_a_query_error(provider: PrometheusProvider) -> None:
    with pytest.raises(QueryError, match="unsupported result type 'matrix'"):
        provider.query("understudy_router_prediction_ks_statistic[1m]")


def test_prometheus_down_is_a_query_error(tmp_path: Path, exporter: str) -> None:
    with PrometheusServer(tmp_path) as prom:
        provider = PrometheusProvider(url=prom.url, timeout_seconds=2)
        assert provider.query("vector(1)") == 1.0
    assert not prom.running
    with pytest.raises(QueryError, match="unreachable"):
        provider.query("vector(1)")
    assert all(isinstance(e, QueryFailed) for e in _samples(CTX, provider).values())
    provider.close()


def test_every_builtin_evidence_query_is_valid_promql(provider: PrometheusProvider) -> None:
    source = PromQLSource(provider)
    for name, builtin in BUILTINS.items():
        for method in builtin.methods:
            for judging in (Judging(), Judging(slices=SliceSettings(field="Neighborhood"))):
                check = Check(name=name, max=1, method=method)
                for part, query in builtin.parts(check, judging).items():
                    answer = source.fetch(query, CTX)
                    assert isinstance(answer, Vector), (name, method, part, answer)
