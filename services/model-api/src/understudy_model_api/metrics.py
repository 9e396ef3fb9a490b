"""The model-api metrics of docs/contracts.md, on an explicit registry.

Every series carries ``model`` and ``version``; they are bound when the artifact
has loaded (``unknown`` before). Label values come from fixed sets only: the
route template (``unmatched`` for unknown paths), a status class, the model's
own field names and the validation codes. A field name a client made up is
counted as ``_unknown``, a record that is not an object as ``_record``, so a
client cannot create series.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from understudy_common.metrics import LATENCY_BUCKETS_SECONDS, PRICE_BUCKETS_DOLLARS, metric_name
from understudy_model.artifact import LoadedModel
from understudy_model.validation import FieldIssue

SUBSYSTEM = "model_api"
RECORD_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)
PROBABILITY_BUCKETS = tuple(round(i / 20, 2) for i in range(1, 21))  # 0.05 .. 1.0
UNKNOWN_FIELD_LABEL = "_unknown"
RECORD_LABEL = "_record"


def status_class(status: int) -> str:
    return f"{status // 100}xx"


class ApiMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._model = "unknown"
        self._version = "unknown"
        self._known_fields: frozenset[str] = frozenset()
        base = ["model", "version"]
        self.requests = Counter(
            metric_name(SUBSYSTEM, "requests"),
            "HTTP requests by route and status class.",
            [*base, "route", "status_class"],
            registry=registry,
        )
        self.in_flight = Gauge(
            metric_name(SUBSYSTEM, "requests_in_flight"),
            "HTTP requests being handled now (a scrape of /metrics counts itself).",
            base,
            registry=registry,
        )
        # The child of the labels in force, looked up once per bind, not once per request.
        self._in_flight_now = self.in_flight.labels(self._model, self._version)
        # The same for the per-request series: (route, status class) -> (counter child,
        # histogram child), filled on first use; ``labels()`` costs a lock, a tuple and a
        # dict look-up per call, three calls per request before (bench/README.md).
        self._request_children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}
        # Children of the per-record histograms, made on first use (a series appears in
        # /metrics once something was observed, as before they were cached).
        self._prediction_now: Histogram | None = None
        self._probability_now: Histogram | None = None
        self._records_now: Histogram | None = None
        self.request_duration = Histogram(
            metric_name(SUBSYSTEM, "request_duration", "seconds"),
            "Time from the request's arrival to the end of the response, by route.",
            [*base, "route"],
            buckets=LATENCY_BUCKETS_SECONDS,
            registry=registry,
        )
        self.prediction = Histogram(
            metric_name(SUBSYSTEM, "prediction", "dollars"),
            "Predicted sale prices, one observation per record.",
            base,
            buckets=PRICE_BUCKETS_DOLLARS,
            registry=registry,
        )
        self.records = Histogram(
            metric_name(SUBSYSTEM, "records_per_request"),
            "Records in each successful prediction request.",
            base,
            buckets=RECORD_BUCKETS,
            registry=registry,
        )
        self.validation_errors = Counter(
            metric_name(SUBSYSTEM, "validation_errors"),
            "Rejected record fields by field and validation code.",
            [*base, "field", "code"],
            registry=registry,
        )
        # Not in the contract table (additions, nothing renamed): accepted-with-warning
        # fields (unseen categories) and the size of each batched predict call.
        self.validation_warnings = Counter(
            metric_name(SUBSYSTEM, "validation_warnings"),
            "Accepted record fields with a warning (e.g. unseen_category), by field and code.",
            [*base, "field", "code"],
            registry=registry,
        )
        self.batch_records = Histogram(
            metric_name(SUBSYSTEM, "batch_records"),
            "Records in each predict call (several requests when micro-batching).",
            base,
            buckets=RECORD_BUCKETS,
            registry=registry,
        )
        self.info = Info(
            metric_name(SUBSYSTEM, "model"),
            "The model this process serves.",
            registry=registry,
        )
        # A classifier's predictions: the positive class's probability (model.json's
        # task.positive_class), one observation per record; the dollars histogram stays
        # empty for a classifier.
        self.probability = Histogram(
            metric_name(SUBSYSTEM, "prediction_probability"),
            "A classifier's positive-class probability, one observation per record.",
            base,
            buckets=PROBABILITY_BUCKETS,
            registry=registry,
        )
        # How predictions are computed: predictor "fast" (the compiled numpy path) or
        # "reference" (the scikit-learn pipeline), and why not fast when it is not.
        self.predictor = Info(
            metric_name(SUBSYSTEM, "predictor"),
            "How this process computes predictions (fast or reference) and why.",
            registry=registry,
        )

    def bind(self, model: LoadedModel) -> None:
        """Label every later observation with ``model`` and publish the Info metric."""
        self._model, self._version = model.name, model.version
        self._known_fields = frozenset(model.schema.names)
        self._in_flight_now = self.in_flight.labels(self._model, self._version)
        self._request_children = {}
        self._prediction_now = self._probability_now = self._records_now = None
        self.info.info(
            {
                "model": model.name,
                "name": model.name,
                "version": model.version,
                "algorithm": model.algorithm,
                "task": model.task.kind,
                "data_fingerprint": str(model.metadata.get("data", {}).get("fingerprint", "")),
            }
        )

    def request_started(self) -> Gauge:
        """Count a request in flight; the caller decrements the child it was given, so a
        request that spans ``bind`` leaves no stray count under the old labels."""
        child = self._in_flight_now
        child.inc()
        return child

    def observe_request(self, *, route: str, status: int, seconds: float) -> None:
        key = (route, status_class(status))  # route: a template or "unmatched", a fixed set
        children = self._request_children.get(key)
        if children is None:
            labels = (self._model, self._version)
            children = (
                self.requests.labels(*labels, *key),
                self.request_duration.labels(*labels, route),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_predictions(self, predictions: Iterable[float], *, records: int) -> None:
        histogram = self._prediction_now
        if histogram is None:
            histogram = self._prediction_now = self.prediction.labels(self._model, self._version)
        for value in predictions:
            histogram.observe(value)
        self._observe_records(records)

    def observe_probabilities(self, probabilities: Iterable[float], *, records: int) -> None:
        histogram = self._probability_now
        if histogram is None:
            histogram = self._probability_now = self.probability.labels(self._model, self._version)
        for value in probabilities:
            histogram.observe(value)
        self._observe_records(records)

    def _observe_records(self, records: int) -> None:
        histogram = self._records_now
        if histogram is None:
            histogram = self._records_now = self.records.labels(self._model, self._version)
        histogram.observe(records)

    def bind_predictor(self, *, predictor: str, reason: str) -> None:
        self.predictor.info({"predictor": predictor, "reason": reason})

    def observe_batch(self, records: int) -> None:
        self.batch_records.labels(self._model, self._version).observe(records)

    def _field_label(self, issue: FieldIssue) -> str:
        if issue.field is None:
            return RECORD_LABEL
        return issue.field if issue.field in self._known_fields else UNKNOWN_FIELD_LABEL

    def count_issues(self, *, errors: Sequence[FieldIssue], warnings: Sequence[FieldIssue]) -> None:
        for counter, issues in (
            (self.validation_errors, errors),
            (self.validation_warnings, warnings),
        ):
            for issue in issues:
                counter.labels(
                    self._model, self._version, self._field_label(issue), issue.code
                ).inc()
