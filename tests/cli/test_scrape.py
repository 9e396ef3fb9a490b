"""The /metrics arithmetic of the local demo, against values worked out by hand."""

import math

import pytest

from understudy_cli.demo.scrape import Snapshot, increase, quantile_from_buckets

TEXT = """\
# TYPE understudy_router_compared_records_total counter
understudy_router_compared_records_total{model="m",candidate_version="2",agree="true"} 90
understudy_router_compared_records_total{model="m",candidate_version="2",agree="false"} 10
understudy_router_compared_records_total{model="m",candidate_version="3",agree="true"} 5
# TYPE understudy_router_upstream_duration_seconds histogram
understudy_router_upstream_duration_seconds_bucket{model="m",role="live",version="1",le="0.1"} 50
understudy_router_upstream_duration_seconds_bucket{model="m",role="live",version="1",le="0.2"} 100
understudy_router_upstream_duration_seconds_bucket{model="m",role="live",version="1",le="+Inf"} 100
understudy_router_upstream_duration_seconds_count{model="m",role="live",version="1"} 100
understudy_router_upstream_duration_seconds_sum{model="m",role="live",version="1"} 12
"""


def test_select_and_total():
    snap = Snapshot.parse(TEXT, taken_at=0)
    name = "understudy_router_compared_records_total"
    assert snap.total(name, candidate_version="2") == 100
    assert snap.total(name, candidate_version="2", agree="true") == 90
    assert snap.total(name, candidate_version="2", agree=lambda v: v != "true") == 10
    assert snap.total(name, candidate_version="9") is None  # no series: no data, not 0


def test_buckets_by_upper_bound():
    snap = Snapshot.parse(TEXT, taken_at=0)
    buckets = snap.buckets("understudy_router_upstream_duration_seconds", role="live")
    assert buckets == {0.1: 50, 0.2: 100, math.inf: 100}


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [(None, 5.0, 5.0), (3.0, 5.0, 2.0), (5.0, 5.0, 0.0), (5.0, 1.0, None), (1.0, None, None)],
)
def test_increase(before, after, expected):
    assert increase(before, after) == expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0.5, 0.1),  # rank 50 hits the first bucket's top exactly
        (0.75, 0.15),  # halfway through the second bucket
        (0.99, 0.198),
    ],
)
def test_quantile_interpolates_like_prometheus(q, expected):
    after = {0.1: 50.0, 0.2: 100.0, math.inf: 100.0}
    assert quantile_from_buckets(q, {}, after) == pytest.approx(expected)


def test_quantile_uses_the_increase_between_scrapes():
    before = {0.1: 40.0, 0.2: 40.0, math.inf: 40.0}  # old traffic, all fast
    after = {0.1: 40.0, 0.2: 50.0, math.inf: 50.0}  # new traffic, all in (0.1, 0.2]
    assert quantile_from_buckets(0.5, before, after) == pytest.approx(0.15)


def test_quantile_without_observations_is_no_data():
    assert quantile_from_buckets(0.99, {0.1: 5.0}, {0.1: 5.0}) is None
    assert quantile_from_buckets(0.99, {}, {}) is None


def test_quantile_in_the_inf_bucket_is_the_highest_finite_bound():
    assert quantile_from_buckets(0.99, {}, {0.1: 1.0, math.inf: 100.0}) == 0.1
