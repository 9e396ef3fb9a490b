"""The built-in checks exist twice: as PromQL (understudy_operator.core.checks, what the
operator asks Prometheus) and in Python (the demo's ScrapeSource, when Prometheus is
absent). This test holds the two equal: the same router metrics — the router's own
metric definitions, on a registry served over HTTP — are read by a real Prometheus through
each check's PromQL and by the ScrapeSource from two scrapes, and every built-in check must
give the same value (or both no data).

Why the values can be equal exactly: every series comes from one target, so Prometheus'
``increase`` extrapolates all of them by the same factor, which cancels in each ratio and
in the quantile; and each counter's baseline is at least twice its increase, so no series is
cut at its zero point. (Prometheus 2.42 extrapolates a series whose first value is under 1.1x
its increase only to that series' own zero point when the window holds just two scrapes; the
factors then differ per bucket and the quantile moves. The 2x-apart coarse latency buckets
hid that: the p99 ratio of two buckets twice as wide came out 2 whatever the factors.)
Series exist from the first scrape on, as in a router that has seen its first mirror (a
series born inside the window is where the two rules differ: Prometheus does not count its
first value, the ScrapeSource does).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from tests.support.prometheus import PrometheusServer
from understudy_cli.demo.scrape_source import ScrapeSource
from understudy_operator.core import (
    BUILTIN_CHECKS,
    Check,
    Measurement,
    NoData,
    QueryContext,
    Value,
)
from understudy_operator.providers.prometheus import PrometheusProvider
from understudy_operator.providers.promql import PromQLSource
from understudy_router.metrics import RouterMetrics
from understudy_router.settings import RouterSettings

pytestmark = pytest.mark.integration

MODEL = "house-prices"
WINDOW = "1m"  # reaches back past the first scrape: the whole test is shorter
CTX = QueryContext(
    model=MODEL, namespace="local", stable="1.0.0", candidate="2.0.0", interval=WINDOW
)
Readings = tuple[PromQLSource, ScrapeSource]


class Exporter:
    """The router's metrics (RouterMetrics: real names, labels and buckets) with values
    the test sets, plus the KS gauge the router computes on scrape."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        settings = RouterSettings()
        self.metrics = RouterMetrics(
            registry=self.registry,
            model=MODEL,
            prediction_edges=settings.prediction_edges,
            slice_edges=settings.slice_edges,
            slice_field_max_values=settings.slice_field_max_values,
        )
        self.ks = Gauge(
            "understudy_router_prediction_ks_statistic",
            "KS",
            ["model", "live_version", "candidate_version"],
            registry=self.registry,
        )
        self.server, self.thread = start_http_server(0, addr="127.0.0.1", registry=self.registry)
        self.address = f"127.0.0.1:{self.server.server_port}"

    def traffic(self, *, scale: int) -> None:
        """One phase of traffic; the second phase adds less than the first (baselines)."""
        m = self.metrics
        for candidate, model in (("2.0.0", MODEL), ("3.0.0", MODEL), ("2.0.0", "other")):
            noise = 1 if (candidate, model) == ("2.0.0", MODEL) else 7  # other series differ
            mirror = m.mirror.labels(model, candidate, "agreed")
            mirror.inc(40 * scale * noise)
            m.mirror.labels(model, candidate, "disagreed").inc(9 * scale)
            m.mirror.labels(model, candidate, "candidate_error").inc(3 * scale)
            m.mirror.labels(model, candidate, "candidate_timeout").inc(1 * scale * noise)
            m.mirror.labels(model, candidate, "dropped").inc(25 * scale)
            m.compared_records.labels(model, candidate, "true").inc(110 * scale * noise)
            m.compared_records.labels(model, candidate, "false").inc(17 * scale)
        # Latency: the candidate slower than live, the scale changing the shape a little.
        for seconds, count in ((0.004, 30), (0.02, 50 + scale), (0.07, 9), (0.3, 2 * scale)):
            for _ in range(count):
                m.observe_upstream(role="live", version="1.0.0", seconds=seconds)
                m.observe_upstream(role="candidate", version="2.0.0", seconds=seconds * 1.7)
                m.observe_upstream(role="live", version="0.9.0", seconds=seconds * 9)
        self.ks.labels(MODEL, "1.0.0", "2.0.0").set(0.0625 * scale)
        self.ks.labels(MODEL, "1.0.0", "3.0.0").set(0.5)

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def readings(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[PromQLSource, ScrapeSource]]:
    exporter = Exporter()
    clock = FakeClock()
    scrape = ScrapeSource(f"http://{exporter.address}", clock=clock)
    # The baseline, twice: every counter's first sample is then >= 2x its increase.
    exporter.traffic(scale=3)
    exporter.traffic(scale=3)
    with PrometheusServer(tmp_path_factory.mktemp("prometheus")) as prom:
        prom.set_targets([exporter.address])
        prom.wait_until_scraped([exporter.address])
        scrape.begin_run()  # baseline snapshot, at t=0 on the source's clock
        exporter.traffic(scale=2)
        changed_at = time.time()
        # A scrape that began after the second phase was complete: its samples are final.
        prom.wait_for_series(
            f'timestamp(up{{instance="{exporter.address}"}}) > {changed_at + 0.05:.3f}'
        )
        clock.now = 60.0  # one WINDOW later: the baseline is the snapshot before
        scrape.begin_run()
        provider = PrometheusProvider(url=prom.url, timeout_seconds=5)
        try:
            yield PromQLSource(provider), scrape
        finally:
            provider.close()
    exporter.stop()


def _value(m: Measurement) -> float | None:
    return m.value if isinstance(m, Value) else None


@pytest.mark.parametrize("name", sorted(BUILTIN_CHECKS))
def test_each_builtin_check_reads_the_same_through_prometheus_and_the_scrape(
    readings: Readings, name: str
) -> None:
    promql, scrape = readings
    check = Check(name=name)
    via_prometheus = promql.measure(check, CTX)
    via_scrape = scrape.measure(check, CTX)
    assert isinstance(via_prometheus, Value), via_prometheus
    assert isinstance(via_scrape, Value), via_scrape
    assert via_scrape.value == pytest.approx(via_prometheus.value, rel=1e-9, abs=1e-12)
    assert via_scrape.value > 0  # a real value, not an empty 0 = 0


def test_the_expected_values_so_the_parity_is_not_vacuous(
    readings: Readings,
) -> None:
    _, scrape = readings
    values = {name: _value(scrape.measure(Check(name=name), CTX)) for name in BUILTIN_CHECKS}
    # second phase (scale 2): 80 agreed, 18 disagreed, 6 errors, 2 timeouts, 50 dropped
    assert values["candidate-error-rate"] == pytest.approx(8 / (80 + 18 + 6 + 2))
    assert values["agreement-rate"] == pytest.approx(220 / (220 + 34))
    assert values["prediction-ks"] == pytest.approx(0.125)
    # totals, not increases: compared records of all three phases plus failed mirrors
    assert values["sample-count"] == (110 + 17) * 8 + (3 + 1) * 8
    assert values["latency-p99-ratio"] is not None and values["latency-p99-ratio"] > 1


@pytest.mark.parametrize("name", sorted(BUILTIN_CHECKS - {"sample-count"}))
def test_a_candidate_without_series_is_no_data_both_ways(readings: Readings, name: str) -> None:
    promql, scrape = readings
    ctx = QueryContext(
        model=MODEL, namespace="local", stable="1.0.0", candidate="9.9.9", interval=WINDOW
    )
    assert isinstance(promql.measure(Check(name=name), ctx), NoData)
    assert isinstance(scrape.measure(Check(name=name), ctx), NoData)


def test_no_evidence_at_all_counts_as_zero_samples_both_ways(
    readings: Readings,
) -> None:
    """The one place the two differ in form: for a candidate with no series the PromQL's
    ``or vector(0)`` gives 0 and the scrape gives no data; the analysis reads both as 0
    samples (core/assess.py), so the verdict is the same."""
    promql, scrape = readings
    ctx = QueryContext(
        model=MODEL, namespace="local", stable="1.0.0", candidate="9.9.9", interval=WINDOW
    )
    check = Check(name="sample-count")
    assert promql.measure(check, ctx) == Value(0.0)
    assert isinstance(scrape.measure(check, ctx), NoData)


def test_the_scrape_source_is_the_demos_fallback() -> None:
    """Guard for the premise: the demo's source reads only the built-ins this test covers."""
    from understudy_cli.demo.scrape_source import BUILTINS

    assert set(BUILTINS) == set(BUILTIN_CHECKS)
