"""Every built-in check's evidence is answered twice: by Prometheus through the PromQL its
queries render (what the operator asks), and by the demo's ScrapeSource from two scrapes of
the router's /metrics (when Prometheus is absent). This test holds the two equal: the same
router metrics — the router's own metric definitions, on a registry served over HTTP — are
read both ways, and every built-in check judged on either evidence must give the same value
(or both no data).

Why the values can be equal exactly: every series comes from one target, so Prometheus'
``increase`` extrapolates all of them by the same factor, which cancels in each ratio, mean,
quantile and distance; and each counter's baseline is at least twice its increase, so no
series is cut at its zero point. (Prometheus 2.42 extrapolates a series whose first value is
under 1.1x its increase only to that series' own zero point when the window holds just two
scrapes; the factors then differ per bucket and the quantile moves.) Counts themselves are
not equal (Prometheus' are extrapolated), so the confidence intervals, which depend on how
many records there are, are compared on the evidence's shape only; and the analysis window
differs by design: the scrape reads a series' whole life, Prometheus what it saw of it (the
same when the candidate's series are born with its analysis, as in a rollout).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from tests.support.prometheus import PrometheusServer
from understudy_cli.demo.scrape_source import ScrapeSource
from understudy_common.compare import RecordComparison
from understudy_model.artifact import LoadedModel, load_artifact
from understudy_model.data import holdout_records, load_ames, split_holdout
from understudy_model.validation import validate_records
from understudy_model_api.drift import DriftMetrics
from understudy_operator.core import (
    BUILTIN_CHECKS,
    BUILTINS,
    Check,
    CheckResult,
    Judging,
    Method,
    QueryContext,
    SliceSettings,
    Vector,
    Verdict,
    Window,
    judge,
)
from understudy_operator.providers.prometheus import PrometheusProvider
from understudy_operator.providers.promql import PromQLSource
from understudy_router.feedback.metrics import FeedbackMetrics
from understudy_router.feedback.store import Joined, Prediction
from understudy_router.metrics import RouterMetrics
from understudy_router.settings import RouterSettings

pytestmark = pytest.mark.integration

MODEL = "house-prices"
BY_FIELD = Judging(slices=SliceSettings(field="Neighborhood", min_samples=5))
BY_PRICE = Judging(slices=SliceSettings(min_samples=5))


class _Served(Collector):
    """What the HTTP server exports: one of the registries, swapped in one assignment, so
    a scrape sees a whole phase of traffic or none of it (a scrape in the middle of a
    phase would give each series its own extrapolation)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        # Two model-apis' drift collectors (stable and candidate) export the same families:
        # merged here into one each, as Prometheus would see them from two targets.
        merged: dict[str, Metric] = {}
        for family in self.registry.collect():
            if family.name in merged:
                merged[family.name].samples += family.samples
            else:
                merged[family.name] = family
        yield from merged.values()


def _router_metrics(registry: CollectorRegistry, models: list[LoadedModel]) -> RouterMetrics:
    settings = RouterSettings()
    # the stable and candidate model-apis' input-drift series (understudy_model_api.drift)
    # beside them, three features each (all 73 make a scrape too slow for the 500ms
    # interval on a busy machine)
    DRIFT[id(registry)] = []
    for model in models:
        drift = DriftMetrics(registry, features="Year_Built,Gr_Liv_Area,Neighborhood")
        drift.bind(model)
        DRIFT[id(registry)].append(drift)
    # the ground-truth counters (understudy_router.feedback) on the same registry
    FEEDBACK[id(registry)] = FeedbackMetrics(registry=registry, model=MODEL)
    metrics = RouterMetrics(
        registry=registry,
        model=MODEL,
        prediction_edges=settings.prediction_edges,
        slice_edges=settings.slice_edges,
        slice_field_max_values=settings.slice_field_max_values,
    )
    metrics.feedback = FEEDBACK[id(registry)]  # type: ignore[attr-defined]
    return metrics


FEEDBACK: dict[int, FeedbackMetrics] = {}
DRIFT: dict[int, list[DriftMetrics]] = {}


def _prediction(role: str, version: str, value: float) -> Prediction:
    return Prediction("r", 0, role, version, MODEL, value, 0.0)


class Exporter:
    """The router's metrics (RouterMetrics: real names, labels and buckets) with values
    the test sets: ``before`` holds the baseline, ``after`` the baseline and one more phase;
    ``publish_after`` swaps what is served."""

    def __init__(self, models: list[LoadedModel]) -> None:
        self.before_registry, self.after_registry = CollectorRegistry(), CollectorRegistry()
        self.before = _router_metrics(self.before_registry, models)
        self.after = _router_metrics(self.after_registry, models)
        records = holdout_records(split_holdout(load_ames()))
        self.rows = validate_records(records, models[0].schema).rows
        self.served = _Served(self.before_registry)
        registry = CollectorRegistry()
        registry.register(self.served)
        self.server, self.thread = start_http_server(0, addr="127.0.0.1", registry=registry)
        self.address = f"127.0.0.1:{self.server.server_port}"

    def publish_after(self) -> None:
        self.served.registry = self.after_registry

    def traffic(self, m: RouterMetrics, *, scale: int) -> None:
        """One phase of traffic; the second phase adds less than the first (baselines)."""
        # The candidate's inputs: 250 houses per scale (500 in the second phase, the
        # input-drift check's minimum), the newest first, so their share drifts by phase.
        newest = sorted(self.rows, key=lambda r: -r["Year_Built"])
        for drift in DRIFT[id(self.before_registry if m is self.before else self.after_registry)]:
            drift.count(newest[: 250 * scale], [150_000.0] * 250 * scale)
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
                # the requests the candidate answered itself (a canary step): slower still
                m.observe_upstream(
                    role="candidate",
                    version="2.0.0",
                    seconds=seconds * 2.5,
                    answered_by="candidate",
                )
        # Client requests by the model that answered them (canary steps judge the candidate's).
        for answered_by, outcome, n in (
            ("live", "live_ok", 400),
            ("candidate", "candidate_ok", 50),
            ("candidate", "candidate_error", 4),
            ("candidate", "candidate_timeout", 1),
        ):
            m.requests.labels(MODEL, "1.0.0", answered_by, outcome).inc(n * scale)
            m.requests.labels("other", "1.0.0", answered_by, outcome).inc(7 * n * scale)
        # Compared records: predictions on both sides and the paired counters, sliced by
        # price and by a field; the candidate off by +30% on the expensive houses.
        records, values = [], []
        for i in range(40 + 5 * scale):
            live = 90_000 + 7_919 * ((i * 37) % 60)
            cand = live * (1.3 if live > 400_000 else 1.0 + ((i % 7) - 3) / 100)
            records.append(
                RecordComparison(live, cand, abs(cand - live), abs(cand - live) / live, i % 5 > 0)
            )
            values.append(["NAmes", "OldTown", "Edwards"][i % 3])
            m.predictions.observe([MODEL, "live", "1.0.0"], live)
            m.predictions.observe([MODEL, "candidate", "2.0.0"], cand)
        m.paired.observe(
            live_version="1.0.0",
            candidate_version="2.0.0",
            records=records,
            field="Neighborhood",
            values=values,
        )
        # Labels for some of those records: the candidate a little closer to the truth.
        feedback: FeedbackMetrics = m.feedback  # type: ignore[attr-defined]
        for record in records[: 20 + 3 * scale]:
            actual = record.live * 1.05
            joined = Joined(
                "r",
                0,
                actual,
                _prediction("live", "1.0.0", record.live),
                _prediction("candidate", "2.0.0", (record.candidate + actual) / 2),
            )
            feedback.observe_join(joined)

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Readings:
    promql: PromQLSource
    scrape: ScrapeSource
    baseline_at: float  # the timestamp of a scrape of the baseline (before the change)
    at: float  # the timestamp of a scrape after the change: every PromQL query's instant

    def context(self, candidate: str = "2.0.0") -> QueryContext:
        """The window from the baseline's scrape to the change's, both included (Prometheus
        2.x ranges are closed). With a sample on each edge, ``increase`` extrapolates by
        exactly 1 (no time to either edge) and reads the same difference the ScrapeSource
        subtracts, whenever Prometheus scraped. The window used to end at the test's clock:
        scrapes delayed on a busy machine then left time to both edges, extrapolated each
        series by its own factor (cut at its zero point) and the values parted."""
        window = f"{round((self.at - self.baseline_at) * 1000)}ms"
        return QueryContext(
            model=MODEL,
            namespace="local",
            stable="1.0.0",
            candidate=candidate,
            interval=window,
            analysis_window=window,
        )


@pytest.fixture(scope="module")
def readings(tmp_path_factory: pytest.TempPathFactory, artifacts: Any) -> Iterator[Readings]:
    exporter = Exporter([load_artifact(artifacts.v1), load_artifact(artifacts.v2)])
    clock = FakeClock()
    scrape = ScrapeSource(f"http://{exporter.address}", clock=clock)
    # The baseline, twice the second phase, in both registries; the second phase on top.
    for metrics in (exporter.before, exporter.after):
        exporter.traffic(metrics, scale=3)
        exporter.traffic(metrics, scale=3)
    exporter.traffic(exporter.after, scale=2)
    with PrometheusServer(tmp_path_factory.mktemp("prometheus")) as prom:
        prom.set_targets([exporter.address])
        prom.wait_until_scraped([exporter.address])
        provider = PrometheusProvider(url=prom.url, timeout_seconds=5)
        up = f'timestamp(up{{instance="{exporter.address}"}})'
        baseline_at = provider.query(up)  # a scrape that is over: it saw the baseline
        scrape.begin_run()  # the ScrapeSource's baseline, at t=0 on its clock
        exporter.publish_after()
        changed_at = time.time()
        # A scrape that began after the change: its samples are final.
        prom.wait_for_series(f"{up} > {changed_at + 0.05:.3f}")
        at = provider.query(up)  # that scrape (or a later one), in whole milliseconds
        provider.close()  # the tests' provider reads at that scrape's instant
        provider = PrometheusProvider(
            url=prom.url, timeout_seconds=5, at=datetime.fromtimestamp(at, tz=UTC)
        )
        clock.now = 60.0  # later than any window of the tests: the baseline is the first
        scrape.begin_run()
        try:
            yield Readings(PromQLSource(provider), scrape, baseline_at, at)
        finally:
            provider.close()
    exporter.stop()


def _judge(source: object, check: Check, judging: Judging, ctx: QueryContext) -> CheckResult:
    parts = BUILTINS[check.name].parts(check, judging)
    return judge(check, {k: source.fetch(q, ctx) for k, q in parts.items()}, judging)  # type: ignore[attr-defined]


CHECKS = sorted(BUILTIN_CHECKS - {"sample-count"})


@pytest.mark.parametrize("judging", [BY_PRICE, BY_FIELD], ids=["by-price", "by-field"])
@pytest.mark.parametrize("name", CHECKS)
def test_each_builtin_check_reads_the_same_through_prometheus_and_the_scrape(
    readings: Readings, name: str, judging: Judging
) -> None:
    # interval set: the distances read the check's interval, not the analysis window
    check = Check(name=name, min=-10, max=10, method=Method.THRESHOLD, interval_seconds=1)
    via_prometheus = _judge(readings.promql, check, judging, readings.context())
    via_scrape = _judge(readings.scrape, check, judging, readings.context())
    assert via_prometheus.value is not None, via_prometheus
    assert via_scrape.value is not None, via_scrape
    assert via_scrape.value == pytest.approx(via_prometheus.value, rel=1e-9, abs=1e-12)
    assert via_scrape.value != 0 or name == "prediction-ks"  # a real value, not 0 = 0
    if name == "label-coverage":
        assert via_scrape.message == via_prometheus.message  # the share of compared, too


ANSWERED = ["candidate-error-rate", "latency-p50-ratio", "latency-p90-ratio", "latency-p99-ratio"]


@pytest.mark.parametrize("name", ANSWERED)
def test_a_canary_steps_checks_read_the_same_both_ways(readings: Readings, name: str) -> None:
    """At a canary step (Check.answered) the error rate and latency read the requests the
    candidate answered: the new selectors, evaluated both ways."""
    check = Check(name=name, max=10, method=Method.THRESHOLD, answered=True)
    via_prometheus = _judge(readings.promql, check, Judging(), readings.context())
    via_scrape = _judge(readings.scrape, check, Judging(), readings.context())
    assert via_scrape.value is not None and via_prometheus.value is not None, via_scrape
    assert via_scrape.value == pytest.approx(via_prometheus.value, rel=1e-9, abs=1e-12)
    shadow = _judge(readings.scrape, replace(check, answered=False), Judging(), readings.context())
    assert via_scrape.value != shadow.value  # not the mirrored evidence again
    if name == "candidate-error-rate":
        # second phase (scale 2): 100 answered fine, 8 errors, 2 timeouts
        assert via_scrape.value == pytest.approx(10 / 110)
    else:
        assert via_scrape.value > 1.6  # type: ignore[operator]  # answers 2.5x slower


@pytest.mark.parametrize("name", [n for n in CHECKS if Method.CONFIDENCE in BUILTINS[n].methods])
def test_the_confidence_evidence_has_the_same_shape_both_ways(
    readings: Readings, name: str
) -> None:
    check = Check(name=name, min=-10, max=10)
    for judging in (BY_PRICE, BY_FIELD):
        for part, query in BUILTINS[name].parts(check, judging).items():
            ctx = readings.context()
            a, b = readings.promql.fetch(query, ctx), readings.scrape.fetch(query, ctx)
            assert isinstance(a, Vector) and isinstance(b, Vector), (part, a, b)
            assert a.values, part
            if query.window is Window.INTERVAL:  # the analysis window differs by design
                assert a == b, part


def test_the_expected_values_so_the_parity_is_not_vacuous(readings: Readings) -> None:
    scrape = readings.scrape

    def judged(name: str, judging: Judging = BY_PRICE, bound: float = 10) -> CheckResult:
        check = Check(name=name, max=bound, method=Method.THRESHOLD)
        return _judge(scrape, check, judging, readings.context())

    def value(name: str) -> float | None:
        return judged(name).value

    # second phase (scale 2): 80 agreed, 18 disagreed, 6 errors, 2 timeouts, 50 dropped
    assert value("candidate-error-rate") == pytest.approx(8 / (80 + 18 + 6 + 2))
    assert value("agreement-rate") == pytest.approx(220 / (220 + 34))
    assert value("latency-p99-ratio") > 1  # type: ignore[operator]
    # the expensive houses (live > $400k) are +30%: the worst price slice says so
    assert value("slice-bias") == pytest.approx(0.3)
    result = judged("slice-bias", bound=0.1)
    assert result.verdict is Verdict.FAIL and "[live $" in result.message
    assert "[Neighborhood=" in judged("slice-bias", BY_FIELD, bound=0.1).message
    # the newest 500 houses against v2's training reference: Year_Built drifts most
    drift = judged("input-drift", bound=0.2)
    assert drift.verdict is Verdict.FAIL and drift.samples == 500
    assert "worst feature Year_Built" in drift.message
    assert judged("stable-input-drift", bound=0.2).verdict is Verdict.FAIL
    # the sample count reads totals, not increases: all three phases
    parts = BUILTINS["sample-count"].parts(Check("sample-count"), Judging())
    counted = {k: scrape.fetch(q, readings.context()) for k, q in parts.items()}
    assert counted == {
        "compared": Vector({(): (110 + 17) * 8}),
        "failed": Vector({(): (3 + 1) * 8}),
    }


@pytest.mark.parametrize("name", [n for n in CHECKS if n != "stable-input-drift"])  # stable's
def test_a_candidate_without_series_is_no_data_both_ways(readings: Readings, name: str) -> None:
    ctx = readings.context(candidate="9.9.9")
    check = Check(name=name, max=1)
    for source in (readings.promql, readings.scrape):
        assert _judge(source, check, BY_PRICE, ctx).verdict in (
            Verdict.INCONCLUSIVE,
            Verdict.NOT_YET,
        )
        assert _judge(source, check, BY_PRICE, ctx).value is None
