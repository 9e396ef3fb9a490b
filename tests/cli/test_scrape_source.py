"""Each built-in check's evidence answered from two scrapes of the router's /metrics,
served by a real HTTP server (the stdlib's) so the scrape path is exercised too, and
judged by the core as the operator would."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from understudy_cli.demo.scrape_source import ScrapeSource
from understudy_operator.core import BUILTINS, CheckResult, Judging, Method, Verdict, judge
from understudy_operator.core.checks import Check, QueryContext
from understudy_operator.core.measurements import QueryFailed, Vector

CTX = QueryContext(model="m", namespace="local", stable="1", candidate="2", interval="4s")
FIRST = """\
understudy_router_mirror_total{model="m",candidate_version="2",outcome="agreed"} 10
understudy_router_mirror_total{model="m",candidate_version="2",outcome="dropped"} 3
understudy_router_compared_records_total{model="m",candidate_version="2",agree="true"} 10
understudy_router_upstream_duration_seconds_bucket{model="m",role="live",version="1",le="0.01"} 10
understudy_router_upstream_duration_seconds_bucket{model="m",role="live",version="1",le="0.02"} 10
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
understudy_router_prediction_value_bucket{model="m",role="live",version="1",le="100.0"} 50
understudy_router_prediction_value_bucket{model="m",role="live",version="1",le="+Inf"} 100
understudy_router_prediction_value_bucket{model="m",role="candidate",version="2",le="100.0"} 57
understudy_router_prediction_value_bucket{model="m",role="candidate",version="2",le="+Inf"} 100
understudy_router_upstream_duration_seconds_bucket{model="m",role="live",version="1",le="0.01"} 110
understudy_router_upstream_duration_seconds_bucket{model="m",role="live",version="1",le="0.02"} 110
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


def measure(src: ScrapeSource, name: str, ctx: QueryContext = CTX, **bounds: float) -> CheckResult:
    """The threshold method: the point value over the interval, as the old gauge-free
    semantics; the evidence fetched part by part as the core's step does."""
    check = Check(name=name, method=Method.THRESHOLD, **bounds)
    parts = BUILTINS[name].parts(check, Judging())
    return judge(check, {k: src.fetch(q, ctx) for k, q in parts.items()}, Judging())


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        # mirrored (not dropped) 10 -> 110: +100; failures +5
        ("candidate-error-rate", 5 / 100),
        # +100 compared, +90 agreed
        ("agreement-rate", 0.9),
        # F_live(100) = 0.5, F_candidate(100) = 0.57 (new series: their whole count)
        ("prediction-ks", 0.07),
        # candidate p99 in (0.01, 0.02] -> 0.0199; live p99 in the first bucket -> 0.0099
        ("latency-p99-ratio", 0.0199 / 0.0099),
    ],
)
def test_builtin_checks(source, check, expected):
    result = measure(source, check, max=1)
    assert result.value == pytest.approx(expected)


def test_the_sample_count_is_totals_not_increases(source):
    parts = BUILTINS["sample-count"].parts(Check("sample-count"), Judging())
    evidence = {k: source.fetch(q, CTX) for k, q in parts.items()}
    # 110 compared + 5 failed
    assert evidence == {"compared": Vector({(): 110.0}), "failed": Vector({(): 5.0})}


def test_the_analysis_window_reads_the_candidates_whole_series(source):
    # method confidence: everything since the candidate's series were born (110 compared,
    # 100 agreeing), not the last interval's increase (100, 90)
    check = Check(name="agreement-rate", min=0.5)
    (query,) = BUILTINS["agreement-rate"].parts(check, Judging()).values()
    assert source.fetch(query, CTX) == Vector({("true",): 100.0, ("false",): 10.0})


def test_no_mirrors_in_the_interval_is_no_data(router):
    src = ScrapeSource(router)
    src.begin_run()
    src.begin_run()  # the same numbers again: nothing happened
    for name in ("agreement-rate", "candidate-error-rate"):
        result = measure(src, name, min=0.1)
        assert result.verdict is Verdict.INCONCLUSIVE
        assert result.message.startswith("no data")


def test_another_candidate_has_no_data(source):
    other = QueryContext(model="m", namespace="local", stable="1", candidate="3", interval="4s")
    result = measure(source, "prediction-ks", other, max=0.1)
    assert (result.verdict, result.message) == (
        Verdict.INCONCLUSIVE,
        "no data: no candidate prediction yet",
    )


def test_custom_promql_needs_prometheus(source):
    result = source.measure(Check(name="custom", max=1, query="up"), CTX)
    assert isinstance(result, QueryFailed)
    assert "needs Prometheus" in result.reason


def test_router_unreachable_is_a_failed_query_not_a_pass():
    src = ScrapeSource("http://127.0.0.1:9")  # discard port: nothing listens
    src.begin_run()
    result = measure(src, "agreement-rate", min=0.9)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert "scraping" in result.message


def test_router_error_status_is_a_failed_query(router):
    src = ScrapeSource(router)
    _Metrics.status = 500
    src.begin_run()
    assert measure(src, "prediction-ks", max=0.1).message.startswith("query failed")


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
    # last 4s: +90 agreed of +90 compared; last 8s: 100 of 110
    assert measure(src, "agreement-rate", short, min=0.5).value == 1.0
    assert measure(src, "agreement-rate", long, min=0.5).value == pytest.approx(100 / 110)


def test_a_series_that_went_down_counts_from_zero(router):
    # a restarted router: PromQL's increase() treats the drop as a reset, so do we
    src = ScrapeSource(router)
    for text in (_compared(100, 10), _compared(5, 1)):
        _Metrics.text = text
        src.begin_run()
    assert measure(src, "agreement-rate", min=0.5).value == pytest.approx(5 / 6)
