"""Live input distributions: every served record counted into the training reference's
buckets (understudy_model.reference), so drift against training is a sum of counters.

Three families, all labelled ``model`` and ``version`` (docs/contracts.md, "Drift"):

``understudy_model_api_drift_values_total{feature, kind, bucket}``
    Served records per feature and bucket. ``kind`` is ``numeric`` or ``categorical``;
    ``bucket`` is, for a number, the upper edge of its reference bucket (``le`` rule,
    ``+Inf`` for the last, the edge as Python's ``repr`` so every pod writes the same
    string), for a category its name, ``_other`` for the categories training pooled as
    rare, ``_unseen`` for one training never saw; ``_null`` for a null in either kind.
    ``feature="_prediction"`` counts the model's predictions into the reference's
    prediction buckets. Counters: they add up across pods and windows exactly, like the
    router's prediction histograms.
``understudy_model_api_drift_reference_share{feature, kind, bucket}``
    The training share of each bucket (of all training rows, nulls included), so that a
    drift check needs nothing but the metrics (the operator never sees the artifact).
    Summed over P pods it is P × the share; readers normalise per feature.
``understudy_model_api_model_trained_timestamp_seconds``
    ``trained_at`` of the artifact, for the "model too old" alert.

Series count: one per bucket of each counted feature, plus ``_null`` (and ``_other``,
``_unseen`` for categories), twice (values and shares). For the Ames model with every
feature counted (the default): 537 value series and 537 share series per pod (33 numeric
fields with at most 10 buckets, 40 categorical ones, the predictions; bench/model_api.py
prints it). ``UNDERSTUDY_MODEL_API_DRIFT_FEATURES`` narrows it to named features, or
``none``.

Cost: counting is a ``bisect`` per numeric field and a dict look-up per category into one
preallocated list of ints (no Prometheus child, lock or object per record); the families
are built at scrape time only. Measured in bench/model_api.py (counting on vs off).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from understudy_common.metrics import metric_name
from understudy_model.artifact import LoadedModel
from understudy_model.data import MISSING_CATEGORY
from understudy_model.reference import CategoricalReference, NumericReference, Reference

SUBSYSTEM = "model_api"
VALUES = metric_name(SUBSYSTEM, "drift_values")  # the client library appends _total
SHARES = metric_name(SUBSYSTEM, "drift_reference_share")
TRAINED = metric_name(SUBSYSTEM, "model_trained_timestamp", "seconds")
PREDICTION = "_prediction"
NULL, OTHER, UNSEEN, INF = "_null", "_other", "_unseen", "+Inf"
NUMERIC, CATEGORICAL = "numeric", "categorical"


class DriftConfigError(ValueError):
    """``drift_features`` (or the reference) names a field the model does not have."""


def select_features(setting: str, reference: Reference) -> list[str]:
    """The features to count: ``all``, ``none`` or comma-separated names (checked)."""
    known = [*reference.numeric, *reference.categorical]
    text = setting.strip()
    if text == "all":
        return known
    if text == "none":
        return []
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise DriftConfigError(
            f"UNDERSTUDY_MODEL_API_DRIFT_FEATURES names {', '.join(unknown)}, which the "
            f"model's reference does not have (it has {len(known)} features; use 'all', "
            "'none' or a comma-separated subset)"
        )
    return names


def edge_label(edge: float) -> str:
    return repr(float(edge))


@dataclass(frozen=True)
class _Series:
    feature: str
    kind: str
    bucket: str
    share: float


def _numeric_series(name: str, ref: NumericReference) -> list[_Series]:
    present = 1.0 - ref.null_share
    labels = [*(edge_label(e) for e in ref.edges), INF]
    out = [_Series(name, NUMERIC, b, s * present) for b, s in zip(labels, ref.shares, strict=True)]
    return [*out, _Series(name, NUMERIC, NULL, ref.null_share)]


def _categorical_series(name: str, ref: CategoricalReference) -> list[_Series]:
    present = 1.0 - ref.null_share
    out = [_Series(name, CATEGORICAL, c, s * present) for c, s in ref.shares.items()]
    return [
        *out,
        _Series(name, CATEGORICAL, OTHER, ref.other_share * present),
        _Series(name, CATEGORICAL, UNSEEN, 0.0),
        _Series(name, CATEGORICAL, NULL, ref.null_share),
    ]


class DriftCounter:
    """Counts records into one flat list of ints, laid out by a plan made once per model."""

    def __init__(self, model: LoadedModel, reference: Reference, features: Sequence[str]) -> None:
        self.model, self.version = model.name, model.version
        self.series: list[_Series] = []
        # (field, upper edges, index of its first bucket) per numeric field, and
        # (field, category -> index, index of _unseen) per categorical one.
        self._numeric: list[tuple[str, tuple[float, ...], int]] = []
        self._categorical: list[tuple[str, dict[Any, int], int]] = []
        missing = sorted(set(features) - set(model.schema.names))
        if missing:  # every served row has every schema field, and only those
            raise DriftConfigError(
                f"the artifact's reference names {', '.join(missing)}, which its feature "
                "schema does not have: retrain the artifact"
            )
        for name in features:
            base = len(self.series)
            if name in reference.numeric:
                ref = reference.numeric[name]
                self.series += _numeric_series(name, ref)
                self._numeric.append((name, ref.edges, base))
            else:
                cat = reference.categorical[name]
                self.series += _categorical_series(name, cat)
                index: dict[Any, int] = {c: base + i for i, c in enumerate(cat.shares)}
                other = base + len(cat.shares)  # then _unseen, then _null (_categorical_series)
                unseen, null = other + 1, other + 2
                for category in model.schema.field(name).categories:
                    index.setdefault(category, other)  # seen in training, pooled as rare
                index[MISSING_CATEGORY] = null  # validation turns a null into this
                index[None] = null
                self._categorical.append((name, index, unseen))
        self._prediction_base = len(self.series)
        self._prediction_edges = reference.prediction.edges
        self.series += _numeric_series(PREDICTION, reference.prediction)
        self.counts = [0] * len(self.series)

    def count_rows(self, rows: Iterable[dict[str, Any]]) -> None:
        counts, numeric, categorical = self.counts, self._numeric, self._categorical
        for row in rows:
            for name, edges, base in numeric:
                value = row[name]
                # A null numeric (validation admits none today) lands one past +Inf: _null.
                counts[base + (len(edges) + 1 if value is None else bisect_left(edges, value))] += 1
            for name, index, unseen in categorical:
                counts[index.get(row[name], unseen)] += 1

    def count_predictions(self, predictions: Iterable[float]) -> None:
        counts, edges, base = self.counts, self._prediction_edges, self._prediction_base
        for value in predictions:
            counts[base + bisect_left(edges, value)] += 1


class DriftMetrics(Collector):
    """The drift families on an explicit registry; empty until ``bind``."""

    def __init__(self, registry: CollectorRegistry, *, features: str = "all") -> None:
        self.features = features
        self.counter: DriftCounter | None = None
        self.labels: list[str] = []
        self.trained_at: float | None = None
        registry.register(self)

    def bind(self, model: LoadedModel) -> None:
        """Plan the counting for ``model`` (DriftConfigError for an unknown feature). An
        artifact without a reference counts nothing: drift then says "no reference"."""
        self.labels = [model.name, model.version]
        trained = model.metadata.get("trained_at")
        self.trained_at = datetime.fromisoformat(trained).timestamp() if trained else None
        reference = model.reference
        if reference is None:
            self.counter = None
            return
        self.counter = DriftCounter(model, reference, select_features(self.features, reference))

    def count(self, rows: Sequence[dict[str, Any]], predictions: Iterable[float]) -> None:
        if self.counter is not None:
            self.counter.count_rows(rows)
            self.counter.count_predictions(predictions)

    def describe(self) -> Iterator[Any]:
        return iter(())  # families depend on the model: collected, not described

    def collect(self) -> Iterator[Any]:
        labels = ["model", "version", "feature", "kind", "bucket"]
        counter = self.counter
        if counter is not None:
            values = CounterMetricFamily(
                VALUES,
                "Served records (and predictions) per training-reference bucket.",
                labels=labels,
            )
            shares = GaugeMetricFamily(
                SHARES, "The training share of each reference bucket.", labels=labels
            )
            for series, count in zip(counter.series, counter.counts, strict=True):
                key = [counter.model, counter.version, series.feature, series.kind, series.bucket]
                values.add_metric(key, float(count))
                shares.add_metric(key, series.share)
            yield values
            yield shares
        if self.trained_at is not None and math.isfinite(self.trained_at):
            trained = GaugeMetricFamily(
                TRAINED,
                "When the served model was trained (unix seconds).",
                labels=["model", "version"],
            )
            trained.add_metric(self.labels, self.trained_at)
            yield trained
