"""understudy_common.histogram: shared edges, counts that match prometheus_client's own
Histogram exactly, and merging by addition."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.parser import text_string_to_metric_families

from understudy_common.histogram import BucketHistograms, log_spaced_edges, symmetric_edges
from understudy_common.metrics import render


def test_log_spaced_edges_have_equal_ratios_and_short_labels() -> None:
    edges = log_spaced_edges(10_000, 3_000_000, 200)
    assert len(edges) == 200 and edges[0] == 10_000 and edges[-1] == 3_000_000
    ratios = [b / a for a, b in itertools.pairwise(edges)]
    assert max(ratios) == pytest.approx(min(ratios), rel=1e-4)
    assert all(float(f"{e:.6g}") == e for e in edges)  # 6 significant digits
    assert log_spaced_edges(10_000, 3_000_000, 200) == edges  # the same in every process


@pytest.mark.parametrize(
    ("low", "high", "count"), [(0, 1, 5), (2, 1, 5), (1, 1, 5), (1, math.inf, 5), (1, 2, 1)]
)
def test_bad_edges_are_refused(low: float, high: float, count: int) -> None:
    with pytest.raises(ValueError):
        log_spaced_edges(low, high, count)


def test_symmetric_edges() -> None:
    assert symmetric_edges([0.1, 1.0]) == (-1.0, -0.1, 0.0, 0.1, 1.0)
    with pytest.raises(ValueError):
        symmetric_edges([1.0, 0.1])


def _samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name.startswith(name):
                out[(("__name__", s.name), *sorted(s.labels.items()))] = s.value
    return out


def test_exports_what_prometheus_clients_histogram_exports_for_the_same_values() -> None:
    edges = (0.5, 1.0, 2.0, 5.0)
    values = [0.1, 0.5, 0.5000001, 1.0, 3.0, 5.0, 7.5, 1e9, -4.0]
    ours = CollectorRegistry()
    mine = BucketHistograms("x_value", "x", labels=["role"], edges=edges)
    ours.register(mine)
    mine.observe_many(["live"], values)
    theirs = CollectorRegistry()
    reference = Histogram("x_value", "x", ["role"], buckets=edges, registry=theirs)
    for v in values:
        reference.labels("live").observe(v)
    got = _samples(render(ours).decode(), "x_value")
    want = _samples(render(theirs).decode(), "x_value")
    want = {k: v for k, v in want.items() if not k[0][1].endswith("_created")}
    assert got == want


def test_non_finite_values_are_not_counted_and_squares_are_kept() -> None:
    h = BucketHistograms("d_ratio", "d", labels=["v"], edges=(0.0, 1.0), squares=True)
    h.observe_many(["2"], [0.5, -2.0, math.nan, math.inf, 3.0])
    registry = CollectorRegistry()
    registry.register(h)
    got = _samples(render(registry).decode(), "d_ratio")
    assert got[(("__name__", "d_ratio_count"), ("v", "2"))] == 3
    assert got[(("__name__", "d_ratio_sum"), ("v", "2"))] == pytest.approx(1.5)
    assert got[(("__name__", "d_ratio_squares_total"), ("v", "2"))] == pytest.approx(13.25)
    assert got[(("__name__", "d_ratio_bucket"), ("le", "0.0"), ("v", "2"))] == 1


def test_counts_of_parts_add_up_to_the_counts_of_the_whole() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(12, 0.5) for _ in range(3000)]
    edges = log_spaced_edges(10_000, 3_000_000, 200)
    whole = BucketHistograms("p", "p", labels=[], edges=edges)
    whole.observe_many([], values)
    parts = [BucketHistograms("p", "p", labels=[], edges=edges) for _ in range(3)]
    for i, part in enumerate(parts):
        part.observe_many([], values[i::3])

    def buckets(h: BucketHistograms) -> list[float]:
        (family,) = list(h.collect())
        return [s.value for s in family.samples if s.name == "p_bucket"]

    summed = [sum(col) for col in zip(*(buckets(p) for p in parts), strict=True)]
    assert summed == buckets(whole)


def test_wrong_label_count_and_unsorted_edges_are_errors() -> None:
    h = BucketHistograms("p", "p", labels=["a", "b"], edges=(1.0, 2.0))
    with pytest.raises(ValueError, match="expected labels"):
        h.observe_many(["x"], [1.0])
    with pytest.raises(ValueError, match="strictly increasing"):
        BucketHistograms("p", "p", labels=[], edges=(2.0, 1.0))
