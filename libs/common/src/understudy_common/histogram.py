"""Histograms on fixed, shared bucket edges: evidence that merges exactly.

A distribution check (KS, PSI, Wasserstein) computed inside one process over its own
window cannot be combined with another replica's, nor cut to an analysis window. Counts in
fixed buckets can: the bucket increases of any number of replicas over any time range add
up, and the distance is computed from the sum (understudy_operator.core). So every process
that counts the same quantity must use the same edges: :func:`log_spaced_edges` is the one
rule, and the edges are a setting, never derived from data.

``BucketHistograms`` counts with a binary search over the edges (prometheus_client's
Histogram scans them linearly, which costs microseconds per observation at hundreds of
buckets) and exports standard Prometheus histograms: cumulative ``_bucket{le=...}``,
``_sum`` and ``_count``; optionally ``_squares`` beside them (the sum of squared values, for
an exact variance of the merged data).
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString


def log_spaced_edges(low: float, high: float, count: int) -> tuple[float, ...]:
    """``count`` upper bucket edges from ``low`` to ``high``, equally spaced in log (each
    bucket the same relative width), rounded to 6 significant digits so that the ``le``
    labels are short and identical in every process. Values above ``high`` fall in +Inf."""
    if not (0 < low < high) or not math.isfinite(high):
        raise ValueError(f"need 0 < low < high < inf, got low={low!r} high={high!r}")
    if count < 2:
        raise ValueError(f"need at least 2 edges, got {count!r}")
    step = math.log(high / low) / (count - 1)
    edges = tuple(float(f"{low * math.exp(i * step):.6g}") for i in range(count))
    if len(set(edges)) != count:
        raise ValueError(f"{count} edges between {low:g} and {high:g} do not fit 6 digits")
    return edges


def symmetric_edges(magnitudes: Sequence[float]) -> tuple[float, ...]:
    """Edges for a signed quantity: -m_k .. -m_1, 0, m_1 .. m_k for increasing ``magnitudes``."""
    if any(m <= 0 for m in magnitudes) or list(magnitudes) != sorted(set(magnitudes)):
        raise ValueError("magnitudes must be positive and strictly increasing")
    return (*(-m for m in reversed(magnitudes)), 0.0, *magnitudes)


class _Counts:
    __slots__ = ("buckets", "squares", "sum")

    def __init__(self, size: int) -> None:
        self.buckets = [0] * size  # per bucket (not cumulative); the last is +Inf
        self.sum = 0.0
        self.squares = 0.0


class BucketHistograms(Collector):
    """One histogram metric family (name, label names, edges) with its labelled children.

    Thread-safe; non-finite values are not counted (the caller decides what they mean).
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        *,
        labels: Sequence[str],
        edges: Sequence[float],
        squares: bool = False,
    ) -> None:
        if list(edges) != sorted(set(edges)) or not all(math.isfinite(e) for e in edges):
            raise ValueError(f"{name}: edges must be finite and strictly increasing")
        self.name = name
        self.documentation = documentation
        self.labels = tuple(labels)
        self.edges = tuple(float(e) for e in edges)
        self.squares = squares
        self._le = [le_label(e) for e in self.edges] + ["+Inf"]
        self._lock = threading.Lock()
        self._children: dict[tuple[str, ...], _Counts] = {}

    def observe(self, label_values: Sequence[str], value: float) -> None:
        """Count one value (if finite) for these label values."""
        self.observe_many(label_values, (value,))

    def observe_many(self, label_values: Sequence[str], values: Iterable[float]) -> None:
        """Count every finite value of ``values`` for these label values."""
        key = tuple(label_values)
        if len(key) != len(self.labels):
            raise ValueError(f"{self.name}: expected labels {self.labels}, got {key}")
        edges = self.edges
        with self._lock:
            counts = self._children.get(key)
            if counts is None:
                counts = self._children[key] = _Counts(len(edges) + 1)
            buckets = counts.buckets
            for value in values:
                if not math.isfinite(value):
                    continue
                # le semantics: a value equal to an edge belongs to that edge's bucket.
                buckets[bisect_left(edges, value)] += 1
                counts.sum += value
                counts.squares += value * value

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        squares = (
            CounterMetricFamily(
                f"{self.name}_squares",
                f"Sum of squared observations of {self.name} (for an exact merged variance).",
                labels=self.labels,
            )
            if self.squares
            else None
        )
        with self._lock:
            children = [(k, list(c.buckets), c.sum, c.squares) for k, c in self._children.items()]
        for key, buckets, total, squared in children:
            cumulative, running = [], 0
            for le, count in zip(self._le, buckets, strict=True):
                running += count
                cumulative.append((le, running))
            family.add_metric(list(key), cumulative, sum_value=total)
            if squares is not None:
                squares.add_metric(list(key), squared)
        yield family
        if squares is not None:
            yield squares

    def describe(self) -> Iterator[Metric]:
        yield HistogramMetricFamily(self.name, self.documentation, labels=self.labels)


def le_label(edge: float) -> str:
    """The ``le`` label of an upper edge exactly as prometheus_client writes it (``1000.0``,
    ``0.05``, ``1.23e+06``, ``+Inf``): Go's float formatting, which switches to an exponent
    from 1e6 on. Every label that names an edge (histogram buckets, the router's prediction
    slices) goes through here, so the same edge is the same string in every series."""
    return floatToGoString(edge)
