"""The feedback feature's Prometheus metrics (names and labels in docs/contracts.md).

Realized error is counted once per labelled record and role, on the replica that applied
the label (or stored the candidate that joined it late): the store makes each join happen
exactly once across replicas, so sums over replicas are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from understudy_common.histogram import BucketHistograms, log_spaced_edges
from understudy_common.metrics import LATENCY_BUCKETS_SECONDS, metric_name

from .store import CANDIDATE, LIVE, Joined

SUBSYSTEM = "router"

# |prediction - actual| in dollars: $100 .. $1M, 81 log-spaced edges (each bucket 12% wide).
# Shared by every replica and version, like the prediction edges, so buckets add up.
ABS_ERROR_EDGES = log_spaced_edges(100.0, 1_000_000.0, 81)

# Outcomes of understudy_router_predictions_stored_total (every one but STORED: not stored).
STORED = "stored"
QUEUE_FULL = "queue_full"  # the writer's queue was full: dropped on the live path
STORE_ERROR = "store_error"  # the store refused or could not be reached
SHUTDOWN = "shutdown"  # still queued when the router stopped and the final flush failed


@dataclass(frozen=True, slots=True)
class PairedLoss:
    """Losses of one record that has both a live and a candidate prediction."""

    live_abs: float
    candidate_abs: float

    @property
    def diff(self) -> float:
        """d = |e_candidate| - |e_live|: positive when the candidate was worse."""
        return self.candidate_abs - self.live_abs


def errors_of(joined: Joined) -> dict[str, float]:
    """Signed error (prediction - actual) per role present."""
    out = {}
    for role, p in ((LIVE, joined.live), (CANDIDATE, joined.candidate)):
        if p is not None:
            out[role] = p.prediction - joined.actual
    return out


def paired_loss(joined: Joined) -> PairedLoss | None:
    if joined.live is None or joined.candidate is None:
        return None
    return PairedLoss(
        live_abs=abs(joined.live.prediction - joined.actual),
        candidate_abs=abs(joined.candidate.prediction - joined.actual),
    )


class FeedbackMetrics:
    """All metrics of the feedback feature, on the router's registry."""

    def __init__(self, *, registry: CollectorRegistry, model: str) -> None:
        self.model = model
        self.predictions_stored = Counter(
            metric_name(SUBSYSTEM, "predictions_stored", "total"),
            "Predictions (records x role) offered to the feedback store, by outcome "
            "(stored, or not: queue_full, store_error, shutdown).",
            ["model", "outcome"],
            registry=registry,
        )
        self.labels = Counter(
            metric_name(SUBSYSTEM, "feedback_labels", "total"),
            "Labels received on POST /v1/feedback, by outcome (applied, duplicate, conflict, "
            "unknown_request, record_out_of_range).",
            ["model", "outcome"],
            registry=registry,
        )
        self.abs_error = BucketHistograms(
            metric_name(SUBSYSTEM, "realized_abs_error", "dollars"),
            "|prediction - actual| of labelled records, by role and version.",
            labels=["model", "role", "version"],
            edges=ABS_ERROR_EDGES,
        )
        registry.register(self.abs_error)
        self.squared_error = Counter(
            metric_name(SUBSYSTEM, "realized_squared_error", "total"),
            "Sum of (prediction - actual)^2 of labelled records, in dollars^2 (for RMSE).",
            ["model", "role", "version"],
            registry=registry,
        )
        self.labelled_records = Counter(
            metric_name(SUBSYSTEM, "labelled_records", "total"),
            "Records whose prediction by this role and version was joined to a label.",
            ["model", "role", "version"],
            registry=registry,
        )
        paired = ["model", "live_version", "candidate_version"]
        self.paired_records = Counter(
            metric_name(SUBSYSTEM, "paired_loss_records", "total"),
            "Labelled records with both a live and a candidate prediction.",
            paired,
            registry=registry,
        )
        self.paired_abs_error = Counter(
            metric_name(SUBSYSTEM, "paired_abs_error", "total"),
            "Sum of |e| per role over paired records (MAE ratio = candidate / live).",
            [*paired, "role"],
            registry=registry,
        )
        self.paired_squared_error = Counter(
            metric_name(SUBSYSTEM, "paired_squared_error", "total"),
            "Sum of e^2 per role over paired records (RMSE ratio = sqrt(candidate / live)).",
            [*paired, "role"],
            registry=registry,
        )
        self.diff_positive = Counter(
            metric_name(SUBSYSTEM, "paired_loss_diff_positive", "total"),
            "Sum of max(d, 0), d = |e_candidate| - |e_live| per paired record.",
            paired,
            registry=registry,
        )
        self.diff_negative = Counter(
            metric_name(SUBSYSTEM, "paired_loss_diff_negative", "total"),
            "Sum of max(-d, 0), d = |e_candidate| - |e_live| per paired record.",
            paired,
            registry=registry,
        )
        self.diff_squares = Counter(
            metric_name(SUBSYSTEM, "paired_loss_diff_squares", "total"),
            "Sum of d^2, d = |e_candidate| - |e_live| per paired record.",
            paired,
            registry=registry,
        )
        self.queue_depth = Gauge(
            metric_name(SUBSYSTEM, "feedback_queue_depth"),
            "Requests whose predictions wait for the background writer.",
            ["model"],
            registry=registry,
        )
        self.store_up = Gauge(
            metric_name(SUBSYSTEM, "feedback_store_up"),
            "1 when the last operation on the feedback store succeeded, else 0.",
            ["model"],
            registry=registry,
        )
        self.store_duration = Histogram(
            metric_name(SUBSYSTEM, "feedback_store_duration", "seconds"),
            "Time of one store operation (write a batch, apply labels, retention), off the "
            "live path.",
            ["model", "operation"],
            buckets=LATENCY_BUCKETS_SECONDS,
            registry=registry,
        )
        self.store_rows = Gauge(
            metric_name(SUBSYSTEM, "feedback_store_rows"),
            "Prediction rows in the store after the last retention pass.",
            ["model"],
            registry=registry,
        )
        self.retention_deleted = Counter(
            metric_name(SUBSYSTEM, "feedback_retention_deleted", "total"),
            "Rows deleted by retention (by age or beyond the row limit), by table.",
            ["model", "table"],
            registry=registry,
        )
        self.retention_runs = Counter(
            metric_name(SUBSYSTEM, "feedback_retention_runs", "total"),
            "Retention passes, by outcome (ok, error).",
            ["model", "outcome"],
            registry=registry,
        )

    def observe_join(self, joined: Joined, *, roles: tuple[str, ...] = (LIVE, CANDIDATE)) -> None:
        """Count the realized error of ``roles`` of a joined record, and the paired loss when
        the candidate is among them and both predictions exist."""
        model = self.model
        for role, error in errors_of(joined).items():
            if role not in roles:
                continue
            p = joined.live if role == LIVE else joined.candidate
            assert p is not None
            self.labelled_records.labels(model, role, p.version).inc()
            self.abs_error.observe_many((model, role, p.version), (abs(error),))
            self.squared_error.labels(model, role, p.version).inc(error * error)
        loss = paired_loss(joined)
        if loss is None or CANDIDATE not in roles:
            return
        assert joined.live is not None and joined.candidate is not None
        key = (model, joined.live.version, joined.candidate.version)
        self.paired_records.labels(*key).inc()
        self.paired_abs_error.labels(*key, LIVE).inc(loss.live_abs)
        self.paired_abs_error.labels(*key, CANDIDATE).inc(loss.candidate_abs)
        self.paired_squared_error.labels(*key, LIVE).inc(loss.live_abs**2)
        self.paired_squared_error.labels(*key, CANDIDATE).inc(loss.candidate_abs**2)
        d = loss.diff
        self.diff_positive.labels(*key).inc(max(d, 0.0))
        self.diff_negative.labels(*key).inc(max(-d, 0.0))
        self.diff_squares.labels(*key).inc(d * d)
