"""The router's Prometheus metrics (names and labels as in docs/contracts.md).

Every series carries the ``model`` label. The KS statistic and window sizes are
computed at scrape time by :class:`WindowCollector`, so they cost nothing per request.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from understudy_common.histogram import BucketHistograms, log_spaced_edges, symmetric_edges
from understudy_common.metrics import (
    ABS_DIFF_BUCKETS_DOLLARS,
    FINE_LATENCY_EDGES_SECONDS,
    RELATIVE_DIFF_BUCKETS,
    metric_name,
)

from .comparison import ComparisonWindows
from .config import RoutingConfig
from .settings import RouterSettings
from .slices import PairedEvidence

SUBSYSTEM = "router"

# Client request outcomes (label values of understudy_router_requests_total).
LIVE_OK = "live_ok"
LIVE_ERROR = "live_error"
# ... of the requests a canary weight sent to the candidate (its answer went to the client):
# CANDIDATE_OK, or the mirror's failure outcomes (comparison.CANDIDATE_ERROR, _TIMEOUT).
CANDIDATE_OK = "candidate_ok"
# Which model's answer the client got (label ``answered_by``; two values, bounded).
LIVE = "live"
CANDIDATE = "candidate"


# Signed relative difference (candidate - live) / live: +-0.1% .. +-100%, log-spaced, and 0.
SIGNED_REL_DIFF_EDGES = symmetric_edges(log_spaced_edges(0.001, 1.0, 31))


class RouterMetrics:
    """All metrics of one router, on the registry it is given."""

    def __init__(
        self,
        *,
        registry: CollectorRegistry,
        model: str,
        prediction_edges: tuple[float, ...],
        slice_edges: tuple[float, ...],
        slice_field_max_values: int,
    ) -> None:
        self.model = model
        # Mergeable evidence for the distribution and bias checks (understudy_common.histogram):
        # the live and candidate predictions of every compared record on shared edges, and the
        # per-record signed relative difference with its sum of squares.
        self.predictions = BucketHistograms(
            metric_name(SUBSYSTEM, "prediction", "value"),
            "Predictions of compared records, by role and version, on shared bucket edges.",
            labels=["model", "role", "version"],
            edges=prediction_edges,
        )
        registry.register(self.predictions)
        self.signed_rel_diff = BucketHistograms(
            metric_name(SUBSYSTEM, "signed_rel_diff", "ratio"),
            "Per-record (candidate - live) / live of compared records.",
            labels=["model", "live_version", "candidate_version"],
            edges=SIGNED_REL_DIFF_EDGES,
            squares=True,
        )
        registry.register(self.signed_rel_diff)
        # The same evidence per slice, as monotone counters (understudy_router.slices).
        self.paired = PairedEvidence(
            model=model, edges=slice_edges, max_field_values=slice_field_max_values
        )
        registry.register(self.paired)
        self.requests = Counter(
            metric_name(SUBSYSTEM, "requests", "total"),
            "Client prediction requests by the model that answered and its result "
            "(live_error / candidate_error: 5xx, 502, 503; candidate_timeout: 504).",
            ["model", "live_version", "answered_by", "outcome"],
            registry=registry,
        )
        self.mirror = Counter(
            metric_name(SUBSYSTEM, "mirror", "total"),
            "Mirror decisions taken (requests selected by mirror_percent), by outcome.",
            ["model", "candidate_version", "outcome"],
            registry=registry,
        )
        self.compared_records = Counter(
            metric_name(SUBSYSTEM, "compared_records", "total"),
            "Per-record live/candidate comparisons, by agreement within tolerance.",
            ["model", "candidate_version", "agree"],
            registry=registry,
        )
        # 121 buckets 1.1x apart (the quantile-ratio rule needs them; FINE_LATENCY_EDGES_SECONDS),
        # counted by binary search: prometheus_client's Histogram scans its edges linearly.
        self.upstream_duration = BucketHistograms(
            metric_name(SUBSYSTEM, "upstream_duration", "seconds"),
            "Upstream request latency as the router saw it, by whose answer the client got.",
            labels=["model", "role", "version", "answered_by"],
            edges=FINE_LATENCY_EDGES_SECONDS,
        )
        registry.register(self.upstream_duration)
        self.abs_diff = Histogram(
            metric_name(SUBSYSTEM, "abs_diff", "dollars"),
            "Per-record |candidate - live| in dollars.",
            ["model", "candidate_version"],
            buckets=ABS_DIFF_BUCKETS_DOLLARS,
            registry=registry,
        )
        self.rel_diff = Histogram(
            metric_name(SUBSYSTEM, "rel_diff", "ratio"),
            "Per-record |candidate - live| / |live|.",
            ["model", "candidate_version"],
            buckets=RELATIVE_DIFF_BUCKETS,
            registry=registry,
        )
        self.mirror_inflight = Gauge(
            metric_name(SUBSYSTEM, "mirror_inflight"),
            "Mirror requests being sent to the candidate now.",
            ["model"],
            registry=registry,
        )
        self.mirror_queue_depth = Gauge(
            metric_name(SUBSYSTEM, "mirror_queue_depth"),
            "Mirror requests waiting for a worker.",
            ["model"],
            registry=registry,
        )
        self.config_reloads = Counter(
            metric_name(SUBSYSTEM, "config_reloads", "total"),
            "Routing config documents seen, by source and outcome (applied, unchanged, rejected).",
            ["model", "source", "outcome"],
            registry=registry,
        )
        self.config = Info(
            metric_name(SUBSYSTEM, "config"),
            "The routing config in force.",
            ["model"],
            registry=registry,
        )

    @classmethod
    def for_settings(cls, registry: CollectorRegistry, settings: RouterSettings) -> RouterMetrics:
        """The router's metrics as its settings shape them (the router's and its mirror
        process's registries: the same edges, or their series could not be joined)."""
        return cls(
            registry=registry,
            model=settings.model_name,
            prediction_edges=settings.prediction_edges,
            slice_edges=settings.slice_edges,
            slice_field_max_values=settings.slice_field_max_values,
        )

    def set_config(self, config: RoutingConfig) -> None:
        self.config.labels(self.model).info(config.info_labels())

    def observe_upstream(
        self, *, role: str, version: str, seconds: float, answered_by: str = LIVE
    ) -> None:
        """``answered_by``: live for the live call and a mirror of it, candidate for a
        request the candidate answered (a canary step)."""
        self.upstream_duration.observe((self.model, role, version, answered_by), seconds)


class WindowCollector(Collector):
    """Publishes the window sizes and the KS statistic over them, computed on scrape."""

    def __init__(self, *, windows: ComparisonWindows, model: str) -> None:
        self._windows = windows
        self._model = model

    def collect(self) -> Iterator[Metric]:
        snapshot = self._windows.snapshot()
        sizes = GaugeMetricFamily(
            metric_name(SUBSYSTEM, "window_predictions"),
            "Predictions in each rolling comparison window.",
            labels=["model", "role"],
        )
        sizes.add_metric([self._model, "live"], snapshot.live_count)
        sizes.add_metric([self._model, "candidate"], snapshot.candidate_count)
        yield sizes
        ks = GaugeMetricFamily(
            metric_name(SUBSYSTEM, "prediction_ks_statistic"),
            "Two-sample KS statistic between the live and candidate prediction windows.",
            labels=["model", "live_version", "candidate_version"],
        )
        if snapshot.ks is not None:
            ks.add_metric(
                [self._model, snapshot.live_version, snapshot.candidate_version], snapshot.ks
            )
        yield ks

    def describe(self) -> Iterator[Metric]:
        # Describing without collecting keeps registration from computing the KS.
        yield GaugeMetricFamily(metric_name(SUBSYSTEM, "window_predictions"), "", labels=[])
        yield GaugeMetricFamily(metric_name(SUBSYSTEM, "prediction_ks_statistic"), "", labels=[])
