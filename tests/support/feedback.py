"""Feedback in tests: wait for stored predictions, post labels, read the feedback logs."""

from __future__ import annotations

from typing import Any

from tests.support.router import Router, wait_for

STORED = "understudy_router_predictions_stored_total"


def wait_stored(router: Router, count: float, *, timeout: float = 15.0) -> float:
    """Wait until ``router`` has stored at least ``count`` predictions; the number stored."""

    def stored() -> float | None:
        value = router.metric(STORED, outcome="stored")
        return value if value >= count else None

    return wait_for(stored, timeout=timeout, what=f"{count} stored predictions")


def label_outcomes(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["outcome"] for r in response.json()["results"]]


def feedback_events(router: Router) -> list[dict[str, Any]]:
    return [
        e for e in router.process.json_logs() if e.get("event.dataset") == "shadow-router.feedback"
    ]
