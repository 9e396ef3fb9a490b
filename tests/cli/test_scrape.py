"""The /metrics arithmetic of the local demo, against values worked out by hand."""

from understudy_cli.demo.scrape import Snapshot

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
