"""kubectl understudy get's screen from a ModelRollout object (no cluster: plain dicts as
the API server returns them)."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from understudy_cli.rollout.view import RunHistory, rollout_view, screen


def rollout(phase: str, last_run: str | None, runs: int, **status: Any) -> dict[str, Any]:
    checks = [
        {
            "name": "agreement-rate",
            "value": 0.87,
            "lower": 0.84,
            "upper": 0.9,
            "threshold": ">= 0.8",
            "verdict": "Pass",
        }
    ]
    return {
        "metadata": {"name": "house-prices", "namespace": "ml"},
        "spec": {"model": {"name": "house-prices", "version": "2.0.0"}},
        "status": {
            "phase": phase,
            "stableVersion": "1.0.0",
            "candidateVersion": "2.0.0",
            "message": f"in {phase}",
            "analysis": {
                "runs": runs,
                "successful": runs,
                "samples": 100 * runs,
                "lastRunAt": last_run,
                "lastVerdict": "Pass" if last_run else None,
                "checks": checks if last_run else [],
            },
            "conditions": [{"type": "Progressing", "status": "True", "reason": phase}],
            **status,
        },
    }


def test_one_row_per_run_seen_and_none_twice() -> None:
    history = RunHistory()
    rollout_view(rollout("Shadowing", None, 0), history)
    rollout_view(rollout("Shadowing", "2026-11-30T12:00:02Z", 1), history)
    rollout_view(rollout("Shadowing", "2026-11-30T12:00:02Z", 1), history)  # same run again
    view = rollout_view(rollout("Shadowing", "2026-11-30T12:00:04Z", 2), history)
    assert [r["number"] for r in view.runs] == [1, 2]
    assert view.counters["samples"] == 200
    assert (view.stable, view.candidate, view.phase) == ("1.0.0", "2.0.0", "Shadowing")


def test_a_weight_or_step_in_the_status_is_shown_whoever_wrote_it() -> None:
    view = rollout_view(
        rollout("Shadowing", None, 0, canary={"weight": 10, "step": 1}), RunHistory()
    )
    assert view.traffic == {"weight": 10, "step": 1}
    assert rollout_view(rollout("Shadowing", None, 0), RunHistory()).traffic == {}


def test_the_screen_has_the_checks_thresholds_interval_and_conditions() -> None:
    out = io.StringIO()
    obj = rollout("AwaitingApproval", "2026-11-30T12:00:02Z", 3, analysis_skipped=None)
    Console(file=out, width=200).print(screen(obj, RunHistory()))
    text = out.getvalue()
    assert "agreement-rate" in text and ">= 0.8" in text
    assert "0.87 [0.84, 0.9]" in text
    assert "AwaitingApproval" in text and "conditions" in text and "Progressing" in text
