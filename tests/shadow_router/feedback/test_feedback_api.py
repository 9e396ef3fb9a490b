"""POST /v1/feedback on a real router in front of real model-apis (SQLite store)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.feedback import feedback_events, label_outcomes, wait_stored
from tests.support.processes import ServiceProcess
from tests.support.router import Router, routing_config, start_router, wait_for

pytestmark = pytest.mark.integration


def predict(router: Router, records: list[dict[str, object]], request_id: str) -> list[float]:
    response = router.predict(records, request_id)
    assert response.status_code == 200, response.text
    return list(response.json()["predictions"])


def direct(api: ServiceProcess, records: list[dict[str, object]]) -> list[float]:
    response = httpx.post(f"{api.url}/v1/predictions", json={"records": records}, timeout=30)
    response.raise_for_status()
    return list(response.json()["predictions"])


@pytest.fixture(scope="module")
def live_router(
    tmp_path_factory: pytest.TempPathFactory, live_api: ServiceProcess
) -> Iterator[Router]:
    """A router with a live model only (post-promotion monitoring), SQLite store."""
    tmp = tmp_path_factory.mktemp("feedback-live")
    process, path = start_router(
        tmp, routing_config(live_api, None), feedback_max_labels="5", max_body_bytes="16384"
    )
    with httpx.Client(timeout=30) as client:
        yield Router(process=process, config_path=path, client=client)
    process.stop()


def test_live_only_labels_give_realized_error_and_a_log_event(
    live_router: Router, records: list[dict[str, object]]
) -> None:
    preds = predict(live_router, records[:3], "live-only-1")
    wait_stored(live_router, 3)
    actuals = [200_000.0, 150_000.0, 99_000.0]
    response = live_router.feedback(
        [{"request_id": "live-only-1", "record": i, "actual": a} for i, a in enumerate(actuals)]
    )
    assert label_outcomes(response) == ["applied"] * 3
    assert response.json()["summary"] == {"applied": 3}
    text = live_router.metrics()
    m = live_router.metric
    assert m("understudy_router_labelled_records_total", role="live", version="1.0.0") == 3
    assert m("understudy_router_labelled_records_total", role="candidate") == 0
    errors = [p - a for p, a in zip(preds, actuals, strict=True)]
    assert math.isclose(
        m("understudy_router_realized_abs_error_dollars_sum", role="live", version="1.0.0"),
        sum(abs(e) for e in errors),
    )
    assert m("understudy_router_realized_abs_error_dollars_count", role="live") == 3
    assert math.isclose(
        m("understudy_router_realized_squared_error_total", role="live", version="1.0.0"),
        sum(e * e for e in errors),
    )
    assert m("understudy_router_paired_loss_records_total") == 0
    assert "understudy_router_feedback_labels_total" in text
    assert m("understudy_router_feedback_labels_total", outcome="applied") == 3
    events = [e for e in feedback_events(live_router) if e["http.request.id"] == "live-only-1"]
    assert sorted(e["understudy.record"] for e in events) == [0, 1, 2]
    first = next(e for e in events if e["understudy.record"] == 0)
    assert first["understudy.actual"] == 200_000.0
    assert math.isclose(first["understudy.live.error"], errors[0])
    assert first["understudy.live.version"] == "1.0.0"
    assert "understudy.candidate.error" not in first


def test_per_label_outcomes_in_one_batch(
    live_router: Router, records: list[dict[str, object]]
) -> None:
    predict(live_router, records[:2], "outcomes-1")
    wait_stored(live_router, 2 + 3)
    first = live_router.feedback([{"request_id": "outcomes-1", "record": 0, "actual": 1000}])
    assert label_outcomes(first) == ["applied"]
    response = live_router.feedback(
        [
            {"request_id": "outcomes-1", "record": 0, "actual": 1000.0},
            {"request_id": "outcomes-1", "record": 0, "actual": 2000.0},
            {"request_id": "no-such-request", "record": 0, "actual": 1.0},
            {"request_id": "outcomes-1", "record": 2, "actual": 1.0},
            {"request_id": "outcomes-1", "record": 1, "actual": 0},
        ]
    )
    results = response.json()["results"]
    assert [(r["outcome"], r["status"]) for r in results] == [
        ("duplicate", 200),
        ("conflict", 409),
        ("unknown_request", 404),
        ("record_out_of_range", 422),
        ("applied", 200),
    ]
    assert "1000" in results[1]["message"]
    assert [r["record"] for r in results] == [0, 0, 0, 2, 1]
    assert live_router.metric("understudy_router_feedback_labels_total", outcome="conflict") >= 1


GOOD = {"request_id": "x", "record": 0, "actual": 1.0}


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        (b"", 400, "malformed_json", "empty"),
        (b"{not json", 400, "malformed_json", "not valid JSON"),
        (
            b'{"labels": [{"request_id": "x", "record": 0, "actual": NaN}]}',
            400,
            "malformed_json",
            "NaN",
        ),
        (
            b'{"labels": [{"request_id": "x", "record": 0, "actual": Infinity}]}',
            400,
            "malformed_json",
            "Infinity",
        ),
        (b"[1, 2]", 422, "invalid_request", "JSON object"),
        (b'{"labels": [], "extra": 1}', 422, "invalid_request", "extra"),
        (b'{"labels": {}}', 422, "invalid_request", "must be a list"),
        (b'{"labels": []}', 422, "invalid_request", "empty"),
        (
            b'{"labels": [{"request_id": "x", "record": 0, "actual": 1e999}]}',
            422,
            "invalid_labels",
            "finite",
        ),
        (
            b'{"labels": [{"request_id": "x", "record": 0, "actual": -5}]}',
            422,
            "invalid_labels",
            "0 or more",
        ),
        (
            b'{"labels": [{"request_id": "x", "record": 0, "actual": "5"}]}',
            422,
            "invalid_labels",
            "number",
        ),
        (
            b'{"labels": [{"request_id": "x", "record": 0, "actual": true}]}',
            422,
            "invalid_labels",
            "number",
        ),
        (
            b'{"labels": [{"request_id": "x", "record": 1.5, "actual": 1}]}',
            422,
            "invalid_labels",
            "integer",
        ),
        (
            b'{"labels": [{"request_id": "x", "record": -1, "actual": 1}]}',
            422,
            "invalid_labels",
            "record",
        ),
        (
            b'{"labels": [{"request_id": "a b", "record": 0, "actual": 1}]}',
            422,
            "invalid_labels",
            "request id",
        ),
        (
            b'{"labels": [{"request_id": 7, "record": 0, "actual": 1}]}',
            422,
            "invalid_labels",
            "string",
        ),
        (b'{"labels": [{"request_id": "x", "record": 0}]}', 422, "invalid_labels", "actual"),
        (
            b'{"labels": [{"request_id": "x", "record": 0, "actual": 1, "p": 2}]}',
            422,
            "invalid_labels",
            "unknown field",
        ),
        (b'{"labels": [1]}', 422, "invalid_labels", "object"),
        (
            b'{"labels": ['
            + b",".join([b'{"request_id": "x", "record": 0, "actual": 1}'] * 6)
            + b"]}",
            413,
            "too_many_labels",
            "at most 5",
        ),
        (
            b'{"labels": [{"request_id": "' + b"x" * 20000 + b'", "record": 0, "actual": 1}]}',
            413,
            "body_too_large",
            "16384",
        ),
    ],
)
def test_bad_feedback_is_refused_whole_with_a_precise_status(
    live_router: Router, body: bytes, status: int, code: str, words: str
) -> None:
    before = live_router.metric("understudy_router_feedback_labels_total")
    response = live_router.client.post(
        f"{live_router.url}/v1/feedback",
        content=body,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["error"] == code
    assert words in payload["message"] + str(payload.get("errors", ""))
    assert live_router.metric("understudy_router_feedback_labels_total") == before


def test_a_bad_label_refuses_the_good_ones_beside_it(
    live_router: Router, records: list[dict[str, object]]
) -> None:
    predict(live_router, records[:1], "half-1")
    wait_for(
        lambda: (
            live_router.feedback([{"request_id": "half-1", "record": 5, "actual": 1}]).json()[
                "results"
            ][0]["outcome"]
            == "record_out_of_range"
        ),
        what="half-1 stored",
    )
    response = live_router.feedback(
        [{"request_id": "half-1", "record": 0, "actual": 10.0}, {**GOOD, "actual": -1}]
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["label"] == 1
    # nothing was applied: the good label applies now, for the first time
    again = live_router.feedback([{"request_id": "half-1", "record": 0, "actual": 10.0}])
    assert label_outcomes(again) == ["applied"]


def test_wrong_content_type_is_415(live_router: Router) -> None:
    response = live_router.client.post(
        f"{live_router.url}/v1/feedback", content=b"labels", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


def test_paired_metrics_with_a_candidate(
    router_factory: Any,
    live_api: ServiceProcess,
    candidate_api: ServiceProcess,
    records: list[dict[str, object]],
) -> None:
    router = router_factory(routing_config(live_api, (candidate_api.url, "2.0.0")))
    batch = records[10:14]
    live = predict(router, batch, "paired-1")
    candidate = direct(candidate_api, batch)
    wait_stored(router, 8)  # 4 live + 4 candidate
    actuals = [180_000.0, 120_000.0, 250_000.0, 90_000.0]
    response = router.feedback(
        [{"request_id": "paired-1", "record": i, "actual": a} for i, a in enumerate(actuals)]
    )
    assert label_outcomes(response) == ["applied"] * 4
    key = {"live_version": "1.0.0", "candidate_version": "2.0.0"}
    live_abs = [abs(p - a) for p, a in zip(live, actuals, strict=True)]
    cand_abs = [abs(p - a) for p, a in zip(candidate, actuals, strict=True)]
    d = [c - x for c, x in zip(cand_abs, live_abs, strict=True)]
    m = router.metric
    assert m("understudy_router_paired_loss_records_total", **key) == 4
    assert math.isclose(
        m("understudy_router_paired_abs_error_total", **key, role="live"), sum(live_abs)
    )
    assert math.isclose(
        m("understudy_router_paired_abs_error_total", **key, role="candidate"), sum(cand_abs)
    )
    assert math.isclose(
        m("understudy_router_paired_squared_error_total", **key, role="candidate"),
        sum(x * x for x in cand_abs),
    )
    assert math.isclose(
        m("understudy_router_paired_loss_diff_positive_total", **key), sum(max(x, 0) for x in d)
    )
    assert math.isclose(
        m("understudy_router_paired_loss_diff_negative_total", **key), sum(max(-x, 0) for x in d)
    )
    assert math.isclose(
        m("understudy_router_paired_loss_diff_squares_total", **key), sum(x * x for x in d)
    )
    assert m("understudy_router_labelled_records_total", role="candidate", version="2.0.0") == 4
    event = next(e for e in feedback_events(router) if e["understudy.record"] == 2)
    assert math.isclose(event["understudy.candidate.error"], candidate[2] - actuals[2])
    assert math.isclose(event["understudy.live.error"], live[2] - actuals[2])


def test_a_label_before_the_mirror_finished_joins_the_candidate_later(
    router_factory: Any,
    live_api: ServiceProcess,
    faulty: ServiceProcess,
    records: list[dict[str, object]],
) -> None:
    router = router_factory(
        routing_config(live_api, (f"{faulty.url}/slow-1.5", "slow"), candidate_seconds=5)
    )
    live = predict(router, records[:1], "early-1")
    wait_stored(router, 1)  # the live prediction; the candidate is still on its way
    response = router.feedback([{"request_id": "early-1", "record": 0, "actual": 210_000.0}])
    assert label_outcomes(response) == ["applied"]
    m = router.metric
    assert m("understudy_router_labelled_records_total", role="candidate") == 0
    wait_for(
        lambda: m("understudy_router_paired_loss_records_total") == 1,
        what="the candidate's late join",
    )
    assert m("understudy_router_labelled_records_total", role="candidate", version="slow") == 1
    assert m("understudy_router_labelled_records_total", role="live") == 1
    # the faulty upstream answers 200000 for every record
    assert math.isclose(
        m("understudy_router_paired_loss_diff_squares_total"),
        (abs(200_000.0 - 210_000.0) - abs(live[0] - 210_000.0)) ** 2,
    )
    stages = [e["understudy.feedback.stage"] for e in feedback_events(router)]
    assert stages == ["label", "candidate_late"]


def test_feedback_off_answers_404_and_stores_nothing(
    router_factory: Any, live_api: ServiceProcess, records: list[dict[str, object]]
) -> None:
    router = router_factory(routing_config(live_api, None), feedback_store="none")
    predict(router, records[:1], "off-1")
    response = router.feedback([GOOD])
    assert response.status_code == 404
    assert response.json()["error"] == "feedback_disabled"
    assert "understudy_router_predictions_stored_total" not in router.metrics()


def test_retention_runs_on_its_schedule_and_is_measured(
    router_factory: Any, live_api: ServiceProcess, records: list[dict[str, object]]
) -> None:
    router = router_factory(
        routing_config(live_api, None),
        feedback_retention_rows="5",
        feedback_retention_interval_seconds="0.2",
    )
    for i in range(4):
        predict(router, records[:3], f"ret-{i}")
    wait_stored(router, 12)
    wait_for(
        lambda: (
            router.metric("understudy_router_feedback_retention_deleted_total", table="predictions")
            >= 7
        ),
        what="retention to delete the oldest rows",
    )
    assert router.metric("understudy_router_feedback_store_rows") == 5
    assert router.metric("understudy_router_feedback_retention_runs_total", outcome="ok") >= 2
    response = router.feedback(
        [
            {"request_id": "ret-0", "record": 0, "actual": 1.0},
            {"request_id": "ret-3", "record": 2, "actual": 1.0},
        ]
    )
    assert label_outcomes(response) == ["unknown_request", "applied"]


def test_the_default_store_is_a_sqlite_file_in_the_temp_dir(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("UNDERSTUDY_ROUTER_FEEDBACK_STORE")
    from understudy_router.settings import RouterSettings

    url = RouterSettings(model_name="m").feedback_store_url
    assert url is not None and url.startswith("sqlite:////") and url.endswith("feedback-m.sqlite3")
    assert RouterSettings(feedback_store="None").feedback_store_url is None
    with pytest.raises(ValueError, match="FEEDBACK_STORE"):
        RouterSettings(feedback_store="mysql://x")
