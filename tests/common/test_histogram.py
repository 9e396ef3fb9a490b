"""understudy_common.histogram: shared edges, counts that match prometheus_client's own
Histogram exactly, and merging by addition."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.parser import text_string_to_metric_families

from understudy_common.histogram import (
    BucketHistograms,
    le_label,
    log_spaced_edges,
    symmetric_edges,
)
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


@pytest.mark.parametrize(
    "edges",
    [
        (0.5, 1.0, 2.0, 5.0),
        # From 1e6 on prometheus_client writes le like Go ("1.5e+06", not "1500000.0").
        (0.5, 999_999.0, 1_000_000.0, 1_500_000.0, 2e7),
    ],
)
def test_exports_what_prometheus_clients_histogram_exports_for_the_same_values(
    edges: tuple[float, ...],
) -> None:
    values = [0.1, 0.5, 0.5000001, 1.0, 3.0, 5.0, 7.5, 1e9, -4.0, 1e6, 1.2e6]
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


@pytest.mark.parametrize(
    ("edge", "label"),
    [
        (0.05, "0.05"),
        (1000.0, "1000.0"),
        (999_999.0, "999999.0"),
        (1e6, "1e+06"),
        (1_234_560.0, "1.23456e+06"),
        (2e6, "2e+06"),
        (math.inf, "+Inf"),
    ],
)
def test_le_label(edge: float, label: str) -> None:
    assert le_label(edge) == label


def test_a_single_observation_counts_like_observe_many() -> None:
    one = BucketHistograms("s", "s", labels=["a"], edges=(1.0, 2.0))
    many = BucketHistograms("s", "s", labels=["a"], edges=(1.0, 2.0))
    for value in (0.5, 1.0, 1.5, 3.0):
        one.observe(["x"], value)
    many.observe_many(["x"], (0.5, 1.0, 1.5, 3.0))
    assert [s for f in one.collect() for s in f.samples] == [
        s for f in many.collect() for s in f.samples
    ]
