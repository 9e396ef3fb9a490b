"""spec.notifications parsed, and what a decision's notification says (pure; the sending
is tested against a real receiver and API server in test_notifications_e2e.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.rollouts import AFTER_WARMUP, SPEC, agreement, ks, shadowing
from understudy_operator.core import Measurements, Phase, SpecError, Value, decide, parse_spec
from understudy_operator.core.notifications import (
    Format,
    NotifyOn,
    body,
    events_of,
    message,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
HOOK = {"name": "team", "urlFrom": {"secretKeyRef": {"name": "hooks", "key": "url"}}}


def spec_with(*hooks: dict[str, Any]) -> dict[str, Any]:
    return {"model": {"name": "house-prices", "version": "2.0.0"}, "notifications": list(hooks)}


def test_a_webhook_defaults_to_json_on_both_events_with_a_5s_timeout() -> None:
    (n,) = parse_spec(spec_with(HOOK)).notifications
    assert (n.name, n.secret_name, n.secret_key) == ("team", "hooks", "url")
    assert n.format == Format.JSON
    assert n.on == {NotifyOn.PHASE_CHANGED, NotifyOn.RUN_FAILED}
    assert n.timeout_seconds == 5.0


def test_notifications_never_change_the_analysis_fingerprint() -> None:
    plain = parse_spec(spec_with())
    told = parse_spec(spec_with(HOOK, {**HOOK, "name": "other", "format": "slack"}))
    assert plain.analysis_fingerprint() == told.analysis_fingerprint()


@pytest.mark.parametrize(
    ("hook", "error"),
    [
        ({"name": "team"}, "spec.notifications[0].urlFrom: is required"),
        ({**HOOK, "format": "teams"}, "format: 'teams' must be one of json, slack"),
        ({**HOOK, "events": ["Promoted"]}, "events[0]: 'Promoted' must be one of PhaseChanged"),
        ({**HOOK, "events": []}, "events: must be a non-empty list"),
        ({**HOOK, "timeout": "soon"}, "spec.notifications[0].timeout"),
        ({**HOOK, "url": "http://x"}, "unknown field(s) url"),
        (
            {"name": "team", "urlFrom": {"secretKeyRef": {"name": "hooks"}}},
            "secretKeyRef.key: is required",
        ),
    ],
)
def test_a_bad_webhook_is_a_readable_spec_error(hook: dict[str, Any], error: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(spec_with(hook))
    assert error in str(caught.value)


def test_two_webhooks_of_one_name_are_rejected() -> None:
    with pytest.raises(SpecError, match="names must be unique"):
        parse_spec(spec_with(HOOK, HOOK))


def test_a_failed_run_and_a_phase_change_are_the_events() -> None:
    bad_run = decide(
        spec=SPEC,
        status=shadowing(failed=1),
        measurements=_bad(),
        now=AFTER_WARMUP,
    )
    assert bad_run.status.phase == Phase.ROLLED_BACK
    assert events_of(bad_run) == (NotifyOn.PHASE_CHANGED, NotifyOn.RUN_FAILED)
    quiet = decide(spec=SPEC, status=shadowing(), measurements=None, now=AFTER_WARMUP)
    assert events_of(quiet) == ()


def test_the_generic_body_and_the_slack_text_say_what_happened() -> None:
    decision = decide(spec=SPEC, status=shadowing(failed=1), measurements=_bad(), now=AFTER_WARMUP)
    generic = message(
        event=NotifyOn.PHASE_CHANGED,
        namespace="ml",
        name="house-prices",
        uid="u-1",
        decision=decision,
        now=NOW,
    )
    assert generic["phase"] == "RolledBack" and generic["previousPhase"] == "Shadowing"
    assert generic["candidateVersion"] == "2.0.0" and generic["reason"] == "AnalysisFailed"
    assert generic["id"] == "u-1/PhaseChanged/RolledBack/2026-11-30T12:00:00Z"
    assert {c["name"] for c in generic["checks"]} >= {"agreement-rate"}
    assert body(Format.JSON, generic) is generic
    slack = body(Format.SLACK, generic)
    assert set(slack) == {"text"}
    assert slack["text"].startswith("*ml/house-prices*: Shadowing → *RolledBack*\nrolled back")
    failed_run = body(Format.SLACK, {**generic, "event": str(NotifyOn.RUN_FAILED)})
    assert "analysis run failed" in failed_run["text"]


def _bad() -> Measurements:
    return Measurements(
        samples=Value(500),
        checks={"agreement-rate": agreement(0.41), "prediction-ks": ks(0.04)},
    )


def test_parse_spec_of_a_full_example() -> None:
    hook = {**HOOK, "format": "slack", "events": ["AnalysisRunFailed"], "timeout": "1500ms"}
    (n,) = parse_spec(spec_with(hook)).notifications
    assert n.on == {NotifyOn.RUN_FAILED}
    assert replace(n, timeout_seconds=1.5) == n
