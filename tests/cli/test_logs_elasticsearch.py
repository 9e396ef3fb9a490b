"""The log path end to end, against a real Elasticsearch node.

Real model-api processes (v1 live, v2 candidate) and a real router write their JSON log
lines; the lines are indexed the way the chart's Fluent Bit ships them (one document per
line, daily ``understudy-logs-YYYY.MM.DD`` indices, ``event.ingested`` and ``kubernetes``
metadata added) into Elasticsearch with the chart's own index template; then
``understudy logs`` finds exactly the comparisons the router logged and counted, and
(``--worse``) exactly the labelled records where the candidate's error exceeded live's,
after the true prices were posted to the router's ``POST /v1/feedback``.

What is not real here: Fluent Bit itself (not packaged for Debian; the test's shipper does
its three documented steps), and the Elasticsearch version — 7.10.2 with the OSS modules
(tests/support/elasticsearch.py) where the chart runs 8.17. 7.10 OSS has no ``flattened``
field type (an X-Pack feature), so the template's one ``flattened`` field, the model
inputs the search never reads, is indexed as an unsearched object; the test checks that
this is the only change.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support.artifacts import Artifacts
from tests.support.elasticsearch import ElasticsearchNode
from tests.support.processes import REPO_ROOT, ServiceProcess, start_model_api, start_service
from tests.support.router import metric
from understudy_model.artifact import load_artifact
from understudy_model.data import TARGET, Split, holdout_records

pytestmark = pytest.mark.integration

CHART_TEMPLATE = REPO_ROOT / "helm" / "understudy" / "files" / "elasticsearch-index-template.json"
COMPARISON = "shadow-router.comparison"
FEEDBACK = "shadow-router.feedback"
SINGLE_REQUESTS = 40
# A few requests of several houses: one comparison event each, with arrays per record.
BATCH_SIZES = (3, 5)


def template_for_oss_7(template: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The chart's template with ``flattened`` fields as unsearched objects; and their paths."""
    out = copy.deepcopy(template)
    swapped: list[str] = []

    def walk(properties: dict[str, Any], prefix: str) -> None:
        for name, mapping in properties.items():
            if mapping.get("type") == "flattened":
                properties[name] = {"type": "object", "enabled": False}
                swapped.append(prefix + name)
            elif "properties" in mapping:
                walk(mapping["properties"], f"{prefix}{name}.")

    walk(out["template"]["mappings"]["properties"], "")
    return out, swapped


@pytest.fixture(scope="module")
def elasticsearch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ElasticsearchNode]:
    with ElasticsearchNode(tmp_path_factory.mktemp("elasticsearch")) as node:
        template, swapped = template_for_oss_7(json.loads(CHART_TEMPLATE.read_text()))
        assert swapped == ["inputs"], "the template changed: revisit this adaptation"
        node.request("PUT", "/_index_template/understudy-logs", json=template)
        yield node


@pytest.fixture(scope="module")
def shadowed_traffic(
    artifacts: Artifacts, ames_split: Split, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServiceProcess, dict[str, list[float]]]]:
    """A router that mirrored known requests to v2 and then got every house's true price;
    and the live answers by request id."""
    count = SINGLE_REQUESTS + sum(BATCH_SIZES)
    records = holdout_records(ames_split, limit=count)
    actuals = [float(v) for v in ames_split.holdout[TARGET].head(count)]
    store = tmp_path_factory.mktemp("feedback") / "feedback.sqlite3"
    with start_model_api(artifacts.v1) as live, start_model_api(artifacts.v2) as candidate:
        config = {
            "live": {"url": live.url, "version": "1.0.0"},
            "candidate": {"url": candidate.url, "version": "2.0.0"},
            "mirror_percent": 100,
            "tolerance": {"relative": 0.10, "absolute": 10000},
        }
        env = {
            "UNDERSTUDY_ROUTER_CONFIG_JSON": json.dumps(config),
            "UNDERSTUDY_ROUTER_FEEDBACK_STORE": f"sqlite:///{store}",
        }
        with start_service("understudy_router", env=env) as router:
            answers: dict[str, list[float]] = {}
            bodies = [[r] for r in records[:SINGLE_REQUESTS]]
            start = SINGLE_REQUESTS
            for size in BATCH_SIZES:
                bodies.append(records[start : start + size])
                start += size
            with httpx.Client(base_url=router.url, timeout=30) as http:
                for i, body in enumerate(bodies):
                    rid = f"es-{i:03d}"
                    r = http.post(
                        "/v1/predictions", json={"records": body}, headers={"x-request-id": rid}
                    )
                    assert r.status_code == 200, r.text
                    answers[rid] = r.json()["predictions"]
            _wait_for_comparisons(router, len(bodies))
            _label_everything(router, bodies=len(bodies), actuals=actuals)
            yield router, answers


def _comparisons(router: ServiceProcess) -> list[dict[str, Any]]:
    return [e for e in router.json_logs() if e.get("event.dataset") == COMPARISON]


def _wait_for_comparisons(router: ServiceProcess, count: int) -> None:
    deadline = time.monotonic() + 30
    while len(_comparisons(router)) < count:
        assert time.monotonic() < deadline, f"only {len(_comparisons(router))} of {count} compared"
        time.sleep(0.05)  # the mirror is in the background


def _label_everything(router: ServiceProcess, *, bodies: int, actuals: list[float]) -> None:
    """Post each record's true price (request es-NNN, record j) once both predictions are
    stored; wait until every label is joined and logged."""
    deadline = time.monotonic() + 30
    while True:
        text = httpx.get(f"{router.url}/metrics").text
        if metric(text, "understudy_router_predictions_stored_total", outcome="stored") >= 2 * len(
            actuals
        ):
            break
        assert time.monotonic() < deadline, "predictions not stored"
        time.sleep(0.05)  # the store's writer flushes every 0.2 s
    labels, n = [], 0
    for i in range(bodies):
        size = 1 if i < SINGLE_REQUESTS else BATCH_SIZES[i - SINGLE_REQUESTS]
        for j in range(size):
            labels.append({"request_id": f"es-{i:03d}", "record": j, "actual": actuals[n]})
            n += 1
    response = httpx.post(f"{router.url}/v1/feedback", json={"labels": labels}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["summary"] == {"applied": len(actuals)}
    while len(_feedback(router)) < len(actuals):
        assert time.monotonic() < deadline, "feedback events not logged"
        time.sleep(0.05)


def _feedback(router: ServiceProcess) -> list[dict[str, Any]]:
    return [e for e in router.json_logs() if e.get("event.dataset") == FEEDBACK]


def ship(node: ElasticsearchNode, lines: list[dict[str, Any]], *, pod: str) -> str:
    """Index JSON log lines as the chart's Fluent Bit output does; returns the index name."""
    now = datetime.now(UTC)
    index = f"understudy-logs-{now:%Y.%m.%d}"  # Logstash_Format, Logstash_Prefix
    ingested = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    payload = []
    for line in lines:
        doc = {
            **line,
            "event.ingested": ingested,  # Time_Key event.ingested
            "kubernetes": {
                "namespace_name": "understudy",
                "pod_name": pod,
                "container_name": "router",
            },
        }
        payload.append(json.dumps({"create": {"_index": index}}))
        payload.append(json.dumps(doc))
    result = node.request(
        "POST",
        "/_bulk",
        params={"refresh": "wait_for"},
        content="\n".join(payload) + "\n",
        headers={"content-type": "application/x-ndjson"},
    )
    failed = [item for item in result["items"] if item["create"].get("error")]
    assert not failed, failed[:3]
    return index


@pytest.fixture(scope="module")
def shipped(
    elasticsearch: ElasticsearchNode,
    shadowed_traffic: tuple[ServiceProcess, dict[str, list[float]]],
) -> tuple[ElasticsearchNode, ServiceProcess, dict[str, list[float]]]:
    router, answers = shadowed_traffic
    # Every line the router wrote, request logs and its own start-up lines included, as
    # Fluent Bit would ship them: the template has to take all of them, not only comparisons.
    lines = router.json_logs()
    assert {e.get("event.dataset") for e in lines} >= {COMPARISON}
    ship(elasticsearch, lines, pod="shadow-router-0")
    return elasticsearch, router, answers


def _logs(es: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "understudy_cli", "logs", "--es", es, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _rows(stdout: str) -> list[str]:
    return stdout.splitlines()[2:]  # after the summary and the header


def _request_ids(stdout: str) -> set[str]:
    found = (re.search(r"\bes-\d{3}\b", row) for row in _rows(stdout))
    return {match.group() for match in found if match}


def test_every_comparison_is_found_with_the_routers_own_counts(shipped: Any) -> None:
    node, router, answers = shipped
    text = httpx.get(f"{router.url}/metrics").text
    agreed = metric(text, "understudy_router_mirror_total", outcome="agreed")
    disagreed = metric(text, "understudy_router_mirror_total", outcome="disagreed")
    assert agreed + disagreed == len(answers)
    assert disagreed > 0, "v1 and v2 should disagree on some houses"
    result = _logs(node.url, "--limit", "1000")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        f"{len(answers)} comparison events: agreed {agreed:.0f}, disagreed {disagreed:.0f}"
    )
    assert _request_ids(result.stdout) == set(answers)
    assert len(_rows(result.stdout)) == len(answers)  # each comparison indexed once


def test_disagreements_are_exactly_the_requests_where_a_house_disagreed(shipped: Any) -> None:
    node, router, _ = shipped
    expected = {
        e["http.request.id"] for e in _comparisons(router) if not all(e["understudy.agree"])
    }
    result = _logs(node.url, "--disagreements", "--candidate", "2.0.0", "--limit", "1000")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        f"{len(expected)} comparison events: disagreed {len(expected)}"
    )
    assert _request_ids(result.stdout) == expected


def test_one_request_by_its_id_shows_the_live_answer(shipped: Any) -> None:
    node, _, answers = shipped
    rid = f"es-{SINGLE_REQUESTS:03d}"  # the first batch: several houses in one event
    result = _logs(node.url, "--request-id", rid)
    assert result.returncode == 0, result.stderr
    [row] = _rows(result.stdout)
    live = answers[rid]
    assert rid in row
    assert f"{live[0]:,.0f} (+{len(live) - 1})" in row


def test_an_unknown_candidate_has_no_events(shipped: Any) -> None:
    node, _, _ = shipped
    result = _logs(node.url, "--candidate", "9.9.9")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0 comparison events"


def test_a_missing_index_is_elasticsearchs_own_error(elasticsearch: ElasticsearchNode) -> None:
    result = _logs(elasticsearch.url, "--index", "no-such-index")
    assert result.returncode == 5
    assert "refused the search (404)" in result.stderr
    assert "index_not_found_exception: no such index [no-such-index]" in result.stderr


def test_a_service_that_is_not_elasticsearch_is_named_so(
    shadowed_traffic: tuple[ServiceProcess, dict[str, list[float]]],
) -> None:
    router, _ = shadowed_traffic
    result = _logs(router.url)
    assert result.returncode == 5
    assert f"{router.url} does not answer as Elasticsearch (HTTP 404" in result.stderr


def test_worse_finds_exactly_the_labelled_records_where_the_candidate_was_further_off(
    shipped: Any,
) -> None:
    node, router, _ = shipped
    events = _feedback(router)
    assert all("understudy.candidate.abs_error" in e for e in events)  # labels came after
    expected = {
        (e["http.request.id"], e["understudy.record"]): (
            e["understudy.candidate.abs_error"] - e["understudy.live.abs_error"]
        )
        for e in events
        if e["understudy.candidate.abs_error"] > e["understudy.live.abs_error"]
    }
    assert 0 < len(expected) < len(events), "v2 should be worse on some houses, not all"
    result = _logs(node.url, "--worse", "--candidate", "2.0.0", "--limit", "1000")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        f"{len(expected)} labelled records where the candidate was worse than live"
    )
    found = {}
    for row in _rows(result.stdout):
        rid = re.search(r"\bes-\d{3}\b", row)
        assert rid, row
        cells = row[row.index(rid.group()) :].split()
        found[(rid.group(), int(cells[1]))] = float(cells[-1].replace(",", ""))
    assert set(found) == set(expected)
    gaps = list(found.values())
    assert gaps == sorted(gaps, reverse=True)  # the largest gap first
    worst = max(expected, key=lambda k: expected[k])
    assert found[worst] == pytest.approx(expected[worst], abs=0.5)


def test_worse_for_one_request_of_several_houses(shipped: Any) -> None:
    node, router, _ = shipped
    rid = f"es-{SINGLE_REQUESTS + 1:03d}"  # the batch of 5
    worse = [
        e["understudy.record"]
        for e in _feedback(router)
        if e["http.request.id"] == rid
        and e["understudy.candidate.abs_error"] > e["understudy.live.abs_error"]
    ]
    result = _logs(node.url, "--worse", "--request-id", rid)
    assert result.returncode == 0, result.stderr
    rows = _rows(result.stdout)
    assert sorted(int(r[r.index(rid) :].split()[1]) for r in rows) == sorted(worse)


def test_shadow_traffic_replays_exactly_the_inputs_model_api_logged(
    elasticsearch: ElasticsearchNode, artifacts: Artifacts, ames_split: Split
) -> None:
    """``understudy shadow --traffic es://...``: a real model-api logging its inputs, its
    lines shipped as Fluent Bit does; the reader gives back exactly the records it served,
    in order, and not those of a request it refused (422)."""
    from understudy_cli.shadow.plan import shadow_plan
    from understudy_cli.shadow.traffic_file import TrafficError, read_traffic

    records = holdout_records(ames_split, limit=12)
    bodies = [[r] for r in records[:9]] + [records[9:12]]
    with start_model_api(artifacts.v1, UNDERSTUDY_MODEL_API_LOG_INPUTS="true") as live:
        with httpx.Client(base_url=live.url, timeout=30) as http:
            for body in bodies:
                assert http.post("/v1/predictions", json={"records": body}).status_code == 200
            refused = {**records[0], "Gr_Liv_Area": "big"}
            assert http.post("/v1/predictions", json={"records": [refused]}).status_code == 422
        deadline = time.monotonic() + 30
        while len([e for e in live.json_logs() if "inputs" in e]) < len(bodies) + 1:
            assert time.monotonic() < deadline, "model-api did not log every request"
            time.sleep(0.05)
        ship(elasticsearch, live.json_logs(), pod="model-api-v1-0")
    address = elasticsearch.url.replace("http://", "es://") + "?since=1h&version=1.0.0"
    schema = load_artifact(artifacts.v1).schema
    traffic = read_traffic(address, schema)
    assert traffic.records == records  # the batch's three records in order, the 422 not
    assert traffic.origins[-1].endswith("record 2")
    plan, _ = shadow_plan(
        live_dir=artifacts.v1, candidate_dir=artifacts.v2, traffic_path=address, once=True
    )
    assert plan.records == records and address in plan.summary
    # A version nothing logged, and an index that does not exist: said so.
    with pytest.raises(TrafficError, match="no logged inputs"):
        read_traffic(address.replace("1.0.0", "9.9.9"), schema)
    with pytest.raises(TrafficError, match="no such index"):
        read_traffic(elasticsearch.url.replace("http://", "es://") + "/absent-index", schema)


def test_the_rollout_reports_pairs_are_the_routers_comparisons(shipped: Any) -> None:
    """``kubectl understudy report --es``: the live/candidate pairs read back from
    Elasticsearch, one per compared record, agreeing exactly where the router said so."""
    from understudy_cli.rollout.report import Window, comparison_pairs
    from understudy_operator.core import parse_spec

    node, router, _ = shipped
    now = datetime.now(UTC)
    window = Window(start=now - timedelta(hours=1), end=now, candidate="2.0.0", live="1.0.0")
    spec = parse_spec(
        {
            "model": {"name": "house-prices", "version": "2.0.0"},
            "shadow": {"tolerance": {"relative": 0.10, "absolute": 10000}},  # the router's
        }
    )
    pairs = comparison_pairs(node.url, window, spec, now=now)
    logged = [
        (live, candidate, agree)
        for e in _comparisons(router)
        for live, candidate, agree in zip(
            e["understudy.live.predictions"],
            e["understudy.candidate.predictions"],
            e["understudy.agree"],
            strict=True,
        )
    ]
    assert sorted((p.live, p.candidate, p.agree) for p in pairs) == sorted(logged)
