"""Paired evidence per slice: monotone counters the decision core sums over replicas.

For every compared record, live prediction L and candidate prediction C, under each slice
the record belongs to (``understudy_router_paired_*``, docs/contracts.md):

- ``paired_records_total{..., agree}`` +1 (agree judged as for compared_records_total);
- when L != 0 and d = (C - L) / L is finite: ``paired_rel_diff_count_total`` +1,
  ``paired_rel_diff_positive_total`` +max(d, 0), ``paired_rel_diff_negative_total``
  +max(-d, 0) and ``paired_rel_diff_squares_total`` +d².

A signed sum cannot be one counter: PromQL's increase() reads any decrease as a counter
reset. Split into two monotone parts, the sums of any replicas over any window still give
the mean (positive - negative) / count and the variance squares / count - mean².

Each record is counted under three slices: ``slice_by="all"`` (slice ``"all"``);
``slice_by="prediction"``, slice = the ``le`` label of the band its *live* prediction falls
in (fixed log-spaced edges, RouterSettings.slice_edges; the same rule as histogram buckets);
and, when the routing config names a ``slice_field``, ``slice_by=<field>``, slice = that
field's value in the input record (:func:`field_label`). Only the first
``max_field_values`` distinct values of a field get their own series; later new values are
counted under ``"__other__"``, so label cardinality stays bounded (which values those are
may differ between replicas; the core pools rare values anyway).
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from understudy_common import jsonio
from understudy_common.compare import RecordComparison
from understudy_common.histogram import le_label
from understudy_common.metrics import metric_name
from understudy_common.slicing import RESERVED_SLICE_BY

from .comparison import signed_rel_diff

# slice_by values of the slices every record is counted under (reserved: no slice field
# may take these names, understudy_common.slicing).
ALL, BY_PREDICTION = RESERVED_SLICE_BY
# Field slices that are not a value: field absent or null; pooled (over the cardinality
# bound, or a list/object, which has no short stable label).
MISSING = "__missing__"
OTHER = "__other__"
# A string value is cut to this many characters (Prometheus labels should stay short).
MAX_LABEL_CHARS = 64

_SUBSYSTEM = "router"
_LABELS = ("model", "live_version", "candidate_version", "slice_by", "slice")


def field_label(value: object) -> str:
    """The ``slice`` label of one input field value: stable across processes and runs."""
    if value is None:
        return MISSING
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, int):
        return repr(value)[:MAX_LABEL_CHARS]
    if isinstance(value, float):
        return format(value, "g")
    if isinstance(value, str):
        return value[:MAX_LABEL_CHARS]
    return OTHER


def field_values(body: bytes, field: str, count: int) -> list[object]:
    """The value of ``field`` in each of the ``count`` records of a request body
    ``{"records": [{...}, ...]}`` (None where absent). A body that is not that shape, or
    holds another number of records than were answered, gives None for every record."""
    missing: list[object] = [None] * count
    try:
        document = jsonio.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return missing
    records = document.get("records") if isinstance(document, dict) else None
    if not isinstance(records, list) or len(records) != count:
        return missing
    return [record.get(field) if isinstance(record, dict) else None for record in records]


class _Moments:
    __slots__ = ("count", "negative", "positive", "squares")

    def __init__(self) -> None:
        self.count = 0
        self.positive = 0.0
        self.negative = 0.0
        self.squares = 0.0


class PairedEvidence(Collector):
    """The ``understudy_router_paired_*`` counters of one router; thread-safe.

    Per record: a binary search for the prediction band and a few dict updates.
    """

    def __init__(self, *, model: str, edges: Sequence[float], max_field_values: int) -> None:
        if list(edges) != sorted(set(edges)) or not all(math.isfinite(e) for e in edges):
            raise ValueError("slice edges must be finite and strictly increasing")
        if max_field_values < 1:
            raise ValueError(f"max_field_values must be >= 1, got {max_field_values!r}")
        self._model = model
        self._edges = tuple(float(e) for e in edges)
        self._bands = (*(le_label(e) for e in self._edges), "+Inf")
        self._max_field_values = max_field_values
        self._lock = threading.Lock()
        # (live_version, candidate_version, slice_by, slice, agree) -> records
        self._records: dict[tuple[str, str, str, str, str], int] = {}
        # (live_version, candidate_version, slice_by, slice) -> moments of d
        self._moments: dict[tuple[str, str, str, str], _Moments] = {}
        # Per field: the values that have their own series.
        self._field_slices: dict[str, set[str]] = {}

    def band(self, live: float) -> str:
        """The prediction slice of a live prediction: the ``le`` of its band (a value equal
        to an edge belongs to that edge's band; above the last edge: "+Inf")."""
        return self._bands[bisect_left(self._edges, live)]

    def observe(
        self,
        *,
        live_version: str,
        candidate_version: str,
        records: Sequence[RecordComparison],
        field: str | None = None,
        values: Sequence[object] = (),
    ) -> None:
        """Count the compared records of one request; ``values``: the ``field`` value of each
        record (see :func:`field_values`), required when ``field`` is set."""
        if field is not None and len(values) != len(records):
            raise ValueError(f"{len(values)} values of {field!r} for {len(records)} records")
        with self._lock:
            for i, record in enumerate(records):
                slices = [(ALL, ALL), (BY_PREDICTION, self.band(record.live))]
                if field is not None:
                    slices.append((field, self._field_slice(field, values[i])))
                agree = "true" if record.agree else "false"
                d = signed_rel_diff(record.live, record.candidate)
                for slice_by, slice_ in slices:
                    key = (live_version, candidate_version, slice_by, slice_)
                    counted = (*key, agree)
                    self._records[counted] = self._records.get(counted, 0) + 1
                    if d is None:
                        continue
                    moments = self._moments.get(key)
                    if moments is None:
                        moments = self._moments[key] = _Moments()
                    moments.count += 1
                    if d > 0:
                        moments.positive += d
                    else:
                        moments.negative -= d
                    moments.squares += d * d

    def _field_slice(self, field: str, value: object) -> str:
        label = field_label(value)
        if label in (MISSING, OTHER):
            return label
        kept = self._field_slices.setdefault(field, set())
        if label in kept:
            return label
        if len(kept) < self._max_field_values:
            kept.add(label)
            return label
        return OTHER

    def _families(self) -> tuple[CounterMetricFamily, ...]:
        def family(name: str, documentation: str, *, agree: bool = False) -> CounterMetricFamily:
            labels = [*_LABELS, "agree"] if agree else list(_LABELS)
            return CounterMetricFamily(metric_name(_SUBSYSTEM, name), documentation, labels=labels)

        return (
            family(
                "paired_records",
                "Compared records per slice, by agreement within tolerance.",
                agree=True,
            ),
            family(
                "paired_rel_diff_count",
                "Compared records per slice with a finite (candidate - live) / live.",
            ),
            family("paired_rel_diff_positive", "Sum of max(d, 0), d = (candidate - live) / live."),
            family("paired_rel_diff_negative", "Sum of max(-d, 0), d = (candidate - live) / live."),
            family("paired_rel_diff_squares", "Sum of d², d = (candidate - live) / live."),
        )

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            records = list(self._records.items())
            moments = [
                (key, m.count, m.positive, m.negative, m.squares)
                for key, m in self._moments.items()
            ]
        paired, count, positive, negative, squares = self._families()
        for counted, n in records:
            paired.add_metric([self._model, *counted], n)
        for key, n, pos, neg, sq in moments:
            labels = [self._model, *key]
            count.add_metric(labels, n)
            positive.add_metric(labels, pos)
            negative.add_metric(labels, neg)
            squares.add_metric(labels, sq)
        yield from (paired, count, positive, negative, squares)

    def describe(self) -> Iterator[Metric]:
        yield from self._families()
