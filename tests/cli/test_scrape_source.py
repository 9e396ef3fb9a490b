"""Each built-in check computed from two scrapes of the router's /metrics, served by
a real HTTP server (the stdlib's) so the scrape path is exercised too."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from understudy_cli.demo.scrape_source import ScrapeSource
from understudy_operator.core.checks import Check, QueryContext
from understudy_operator.core.measurements import NoData, QueryFailed, Value

CTX = QueryContext(model="m", namespace="local", stable="1", candidate="2", interval="4s")
FIRST = """\
understudy_router_mirror_total{model="m",candidate_version="2",outcome="agreed"} 10
understudy_router_mirror_total{model="m",candidate_version="2",outcome="dropped"} 3
understudy_router_compared_records_total{model="m",candidate_version="2",agree="true"} 10
understudy_router_upstream_duration_seconds_bucket{model="m",role="live",version="1",le="0.01"} 10
understudy_router_upstream_duration_seconds_bucket{model="m",role="live",version="1",le="+Inf"} 10
understudy_router_upstream_duration_seconds_bucket{model="m",role="candidate",version="2",le="0.01"} 10
understudy_router_upstream_duration_seconds_bucket{model="m",role="candidate",version="2",le="0.02"} 10
understudy_router_upstream_duration_seconds_bucket{model="m",role="candidate",version="2",le="+Inf"} 10
"""
SECOND = """\
understudy_router_mirror_total{model="m",candidate_version="2",outcome="agreed"} 100
understudy_router_mirror_total{model="m",candidate_version="2",outcome="disagreed"} 5
understudy_router_mirror_total{model="m",candidate_version="2",outcome="candidate_error"} 4
understudy_router_mirror_total{model="m",candidate_version="2",outcome="candidate_timeout"} 1
understudy_router_mirror_total{model="m",candidate_version="2",outcome="dropped"} 50
understudy_router_compared_records_total{model="m",candidate_version="2",agree="true"} 100
understudy_router_compared_records_total{model="m",candidate_version="2",agree="false"} 10
understudy_router_prediction_ks_statistic{model="m",live_version="1",candidate_version="2"} 0.07
understudy_router_upstream_duration_seconds_bucket{model="m",role="live",version="1",le="0.01"} 110
understudy_router_upstream_duration_seconds_bucket{model="m",role="live",version="1",le="+Inf"} 110
understudy_router_upstream_duration_seconds_bucket{model="m",role="candidate",version="2",le="0.01"} 10
understudy_router_upstream_duration_seconds_bucket{model="m",role="candidate",version="2",le="0.02"} 110
understudy_router_upstream_duration_seconds_bucket{model="m",role="candidate",version="2",le="+Inf"} 110
"""


class _Metrics:
    text = FIRST
    status = 200


@pytest.fixture
def router():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = _Metrics.text.encode()
            self.send_response(_Metrics.status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Metrics.text, _Metrics.status = FIRST, 200
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def source(router):
    src = ScrapeSource(router)
    src.begin_run()
    _Metrics.text = SECOND
    src.begin_run()
    return src


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        # mirrored (not dropped) 10 -> 110: +100; failures +5
        ("candidate-error-rate", 5 / 100),
        # +100 compared, +90 agreed
        ("agreement-rate", 0.9),
        ("prediction-ks", 0.07),
        # totals, not increases: 110 compared + 5 failed
        ("sample-count", 115),
        # candidate p99 in (0.01, 0.02] -> 0.0199; live p99 in the first bucket -> 0.0099
        ("latency-p99-ratio", 0.0199 / 0.0099),
    ],
)
def test_builtin_checks(source, check, expected):
    measurement = source.measure(Check(name=check, max=1), CTX)
    assert isinstance(measurement, Value)
    assert measurement.value == pytest.approx(expected)


def test_no_mirrors_in_the_interval_is_no_data(router):
    src = ScrapeSource(router)
    src.begin_run()
    src.begin_run()  # the same numbers again: nothing happened
    assert isinstance(src.measure(Check(name="agreement-rate", min=0.9), CTX), NoData)
    assert isinstance(src.measure(Check(name="candidate-error-rate", max=0.1), CTX), NoData)


def test_another_candidate_has_no_data(source):
    other = QueryContext(model="m", namespace="local", stable="1", candidate="3", interval="4s")
    assert isinstance(source.measure(Check(name="prediction-ks", max=0.1), other), NoData)


def test_custom_promql_needs_prometheus(source):
    result = source.measure(Check(name="custom", max=1, query="up"), CTX)
    assert isinstance(result, QueryFailed)
    assert "needs Prometheus" in result.reason


def test_router_unreachable_is_a_failed_query_not_a_pass():
    src = ScrapeSource("http://127.0.0.1:9")  # discard port: nothing listens
    src.begin_run()
    result = src.measure(Check(name="agreement-rate", min=0.9), CTX)
    assert isinstance(result, QueryFailed)
    assert "scraping" in result.reason


def test_router_error_status_is_a_failed_query(router):
    src = ScrapeSource(router)
    _Metrics.status = 500
    src.begin_run()
    assert isinstance(src.measure(Check(name="prediction-ks", max=0.1), CTX), QueryFailed)


def _compared(agreed: int, disagreed: int) -> str:
    return (
        f'understudy_router_compared_records_total{{model="m",candidate_version="2",agree="true"}} {agreed}\n'
        f'understudy_router_compared_records_total{{model="m",candidate_version="2",agree="false"}} {disagreed}\n'
    )


def test_a_checks_own_interval_reaches_back_further(router):
    times = iter([0.0, 4.0, 8.0])
    src = ScrapeSource(router, clock=lambda: next(times))
    for text in (_compared(0, 0), _compared(10, 10), _compared(100, 10)):
        _Metrics.text = text
        src.begin_run()
    short = QueryContext(model="m", namespace="local", stable="1", candidate="2", interval="4s")
    long = QueryContext(model="m", namespace="local", stable="1", candidate="2", interval="8s")
    check = Check(name="agreement-rate", min=0.5)
    # last 4s: +90 agreed of +90 compared; last 8s: 100 of 110
    assert src.measure(check, short) == Value(1.0)
    assert src.measure(check, long) == Value(pytest.approx(100 / 110))
