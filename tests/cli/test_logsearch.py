"""`understudy logs`: the request it sends, the table it prints, its usage errors.

The search against a real Elasticsearch node, with the chart's index template and the
router's real log lines, is tests/cli/test_logs_elasticsearch.py. Here a stdlib HTTP
server plays Elasticsearch with a fixed answer, to check the exact request (filters, size,
the API key header) and the exact table for known numbers.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from understudy_cli.logsearch import ComparisonQuery, build_search, parse_response

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "k8s" / "base" / "fluent-bit" / "index-template.json"


def _hit(rid: str, outcome: str, live: list[float], cand: list[float]) -> dict[str, Any]:
    return {
        "_source": {
            "@timestamp": "2026-11-26T05:00:00.123+00:00",
            "event.dataset": "shadow-router.comparison",
            "http.request.id": rid,
            "understudy.outcome": outcome,
            "understudy.live.version": "1.0.0",
            "understudy.candidate.version": "2.0.0",
            "understudy.live.predictions": live,
            "understudy.candidate.predictions": cand,
            "understudy.abs_diff": [abs(a - b) for a, b in zip(live, cand, strict=True)],
            "understudy.agree": [abs(a - b) <= 10_000 for a, b in zip(live, cand, strict=True)],
        }
    }


SEARCH_ANSWER = {
    "took": 3,
    "timed_out": False,
    "hits": {
        "total": {"value": 3, "relation": "eq"},
        "hits": [
            _hit("req-b", "disagreed", [180_000.0], [215_500.0]),
            _hit("req-a", "disagreed", [2_429_245.0, 100_000.0], [301_000.0, 101_000.0]),
        ],
    },
    "aggregations": {
        "outcomes": {
            "buckets": [{"key": "disagreed", "doc_count": 2}, {"key": "agreed", "doc_count": 1}]
        }
    },
}


class _Stub:
    status: ClassVar[int] = 200
    answer: ClassVar[dict[str, Any]] = SEARCH_ANSWER
    requests: ClassVar[list[tuple[str, str, dict[str, Any]]]] = []
    headers: ClassVar[list[dict[str, str]]] = []


@pytest.fixture
def elasticsearch_stub():
    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            _Stub.requests.append((self.command, self.path, body))
            _Stub.headers.append({k.lower(): v for k, v in self.headers.items()})
            data = json.dumps(_Stub.answer).encode()
            self.send_response(_Stub.status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = _reply
        do_GET = _reply

        def log_message(self, *args: Any) -> None:
            pass

    _Stub.status, _Stub.answer, _Stub.requests, _Stub.headers = 200, SEARCH_ANSWER, [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _logs(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "understudy_cli", "logs", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_disagreements_of_one_candidate(elasticsearch_stub):
    result = _logs(
        "--es",
        elasticsearch_stub,
        "--disagreements",
        "--candidate",
        "2.0.0",
        "--since",
        "15m",
        "--limit",
        "5",
        env={"UNDERSTUDY_ES_API_KEY": "a2V5OnNlY3JldA=="},
    )
    assert result.returncode == 0, result.stderr
    assert _Stub.headers[0]["authorization"] == "ApiKey a2V5OnNlY3JldA=="
    ((method, path, body),) = _Stub.requests
    assert method == "POST" and path.startswith("/understudy-logs-")
    assert path.endswith("/_search")
    filters = body["query"]["bool"]["filter"]
    assert {"term": {"understudy.agree": False}} in filters
    assert {"term": {"understudy.candidate.version": "2.0.0"}} in filters
    assert {"range": {"@timestamp": {"gte": "now-15m"}}} in filters
    assert body["size"] == 5
    lines = result.stdout.splitlines()
    assert lines[0] == "3 comparison events: agreed 1, disagreed 2"
    assert "req-b" in lines[2] and "180,000" in lines[2] and "35,500" in lines[2]
    assert "2,429,245 (+1)" in lines[3] and "2,128,245" in lines[3]


def test_an_unreachable_elasticsearch_is_a_clear_error():
    result = _logs("--es", "http://127.0.0.1:9")
    assert result.returncode == 5
    assert "cannot reach Elasticsearch at http://127.0.0.1:9" in result.stderr


@pytest.mark.parametrize("since", ["yesterday", "0h", "5"])
def test_a_bad_since_is_a_usage_error(since):
    result = _logs("--es", "http://127.0.0.1:9", "--since", since)
    assert result.returncode == 2
    assert "since must look like 15m, 1h or 2d" in result.stderr


def _mapped_type(template: dict[str, Any], dotted: str) -> str | None:
    node: Any = template["template"]["mappings"]
    for part in dotted.split("."):
        node = (node.get("properties") or {}).get(part)
        if node is None:
            return None
    return node.get("type")


def test_every_field_the_search_uses_is_mapped_for_exact_matching():
    template = json.loads(TEMPLATE.read_text())
    body = build_search(
        ComparisonQuery(candidate_version="2", disagreements_only=True, request_id="r")
    )
    fields = [next(iter(f[kind])) for f in body["query"]["bool"]["filter"] for kind in f]
    fields.append(body["aggs"]["outcomes"]["terms"]["field"])
    types = {f: _mapped_type(template, f) for f in fields}
    assert types == {
        "event.dataset": "keyword",
        "@timestamp": "date",
        "understudy.candidate.version": "keyword",
        "understudy.agree": "boolean",
        "http.request.id": "keyword",
        "understudy.outcome": "keyword",
    }


def test_nested_sources_parse_too():
    # An ingest pipeline may turn dotted keys into objects; both shapes read the same.
    nested = {
        "hits": {
            "total": {"value": 1},
            "hits": [
                {
                    "_source": {
                        "@timestamp": "t",
                        "http": {"request": {"id": "r1"}},
                        "understudy": {
                            "outcome": "agreed",
                            "live": {"version": "1", "predictions": [1.0]},
                            "candidate": {"version": "2", "predictions": [2.0]},
                            "abs_diff": [1.0],
                        },
                    }
                }
            ],
        }
    }
    (event,) = parse_response(nested).events
    assert (event.request_id, event.outcome, event.max_abs_diff) == ("r1", "agreed", 1.0)


# -- --worse: labelled records where the candidate was further off (feedback events) -------


def _feedback_hit(rid: str, actual: float, live: float, cand: float) -> dict[str, Any]:
    return {
        "_source": {
            "@timestamp": "2026-11-30T05:00:00.123+00:00",
            "event.dataset": "shadow-router.feedback",
            "http.request.id": rid,
            "understudy.record": 0,
            "understudy.actual": actual,
            "understudy.feedback.stage": "label",
            "understudy.live.version": "1.0.0",
            "understudy.live.prediction": live,
            "understudy.live.abs_error": abs(live - actual),
            "understudy.candidate.version": "1.0.1-minus4",
            "understudy.candidate.prediction": cand,
            "understudy.candidate.abs_error": abs(cand - actual),
        }
    }


WORSE_ANSWER = {
    "hits": {
        "total": {"value": 2, "relation": "eq"},
        "hits": [
            _feedback_hit("lbl-b", 200_000.0, 201_000.0, 192_960.0),
            _feedback_hit("lbl-a", 100_000.0, 100_500.0, 96_480.0),
        ],
    }
}


def test_worse_searches_feedback_events_with_a_script_filter_largest_gap_first(
    elasticsearch_stub,
):
    _Stub.answer = WORSE_ANSWER
    result = _logs("--es", elasticsearch_stub, "--worse", "--candidate", "1.0.1-minus4")
    assert result.returncode == 0, result.stderr
    ((_, _, body),) = _Stub.requests
    filters = body["query"]["bool"]["filter"]
    assert {"term": {"event.dataset": "shadow-router.feedback"}} in filters
    assert {"term": {"understudy.candidate.version": "1.0.1-minus4"}} in filters
    assert {"exists": {"field": "understudy.candidate.abs_error"}} in filters
    (script,) = [f["script"]["script"] for f in filters if "script" in f]
    assert script["lang"] == "painless"
    assert (
        "doc['understudy.candidate.abs_error'].value - doc['understudy.live.abs_error'].value > 0"
        in script["source"]
    )
    assert body["sort"][0]["_script"]["order"] == "desc"
    lines = result.stdout.splitlines()
    assert lines[0] == "2 labelled records where the candidate was worse than live"
    # actual, live, candidate, |e| live, |e| candidate, worse by
    assert "lbl-b" in lines[2]
    assert lines[2].split()[-6:] == ["200,000", "201,000", "192,960", "1,000", "7,040", "6,040"]
    assert lines[3].split()[-1] == "3,020"


def test_worse_and_disagreements_exclude_each_other():
    result = _logs("--es", "http://127.0.0.1:9", "--worse", "--disagreements")
    assert result.returncode == 2
    assert "not allowed with argument" in result.stderr


def test_every_field_the_worse_search_uses_is_mapped_as_its_type():
    from understudy_cli.feedbacksearch import FeedbackQuery, build_feedback_search

    template = json.loads(TEMPLATE.read_text())
    body = build_feedback_search(FeedbackQuery(candidate_version="2", request_id="r"))
    fields = []
    for f in body["query"]["bool"]["filter"]:
        kind, spec = next(iter(f.items()))
        if kind == "exists":
            fields.append(spec["field"])
        elif kind != "script":
            fields.append(next(iter(spec)))
    filters = body["query"]["bool"]["filter"]
    script = next(f["script"]["script"]["source"] for f in filters if "script" in f)
    fields += re.findall(r"doc\['([^']+)'\]", script)
    types = {f: _mapped_type(template, f) for f in fields}
    assert types == {
        "event.dataset": "keyword",
        "@timestamp": "date",
        "understudy.live.abs_error": "double",
        "understudy.candidate.abs_error": "double",
        "understudy.candidate.version": "keyword",
        "http.request.id": "keyword",
    }
    # what the table reads from a feedback event is mapped too
    for field in (
        "understudy.actual",
        "understudy.record",
        "understudy.live.prediction",
        "understudy.candidate.prediction",
        "understudy.feedback.stage",
    ):
        assert _mapped_type(template, field) is not None, field
