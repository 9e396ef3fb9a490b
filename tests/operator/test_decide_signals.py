"""decide(): the plugin's signals, retry and promote (skip analysis); one rule per test."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.support.rollouts import AFTER_WARMUP, SPEC, shadowing
from understudy_operator.core import (
    Action,
    ActionKind,
    Observed,
    Phase,
    RolloutStatus,
    Signal,
    Signals,
    decide,
)


def test_retry_shadows_a_rolled_back_candidate_again_with_fresh_counters() -> None:
    rolled_back = replace(shadowing(runs=4, failed=2), phase=Phase.ROLLED_BACK)
    d = decide(
        spec=SPEC,
        status=rolled_back,
        measurements=None,
        now=AFTER_WARMUP,
        signals=Signals(retry=True),
    )
    assert d.status.phase == Phase.DEPLOYING
    assert d.reason == "RolloutRetried"
    assert d.actions == (Action(ActionKind.DEPLOY_CANDIDATE, "2.0.0"),)
    # Fresh counters; startedAt unset until the candidate is ready again, so the evidence
    # window (query_context) starts after the retry, not at the first attempt.
    assert d.status.analysis.runs == 0 and d.status.analysis.failed == 0
    assert d.status.analysis.started_at is None
    assert d.consumed == {Signal.RETRY}


def test_retry_is_ignored_while_a_rollout_is_in_flight() -> None:
    d = decide(
        spec=SPEC,
        status=shadowing(runs=2, failed=1),
        measurements=None,
        now=AFTER_WARMUP,
        signals=Signals(retry=True),
    )
    assert d.status.phase == Phase.SHADOWING
    assert d.status.analysis.failed == 1
    assert Signal.RETRY not in d.consumed


@pytest.mark.parametrize(
    "phase", [Phase.DEPLOYING, Phase.SHADOWING, Phase.AWAITING_APPROVAL, Phase.PAUSED]
)
def test_promote_skips_the_analysis_from_any_phase_before_promotion(phase: Phase) -> None:
    status = replace(shadowing(runs=1, consecutive_successful=1), phase=phase)
    d = decide(
        spec=SPEC, status=status, measurements=None, now=AFTER_WARMUP, signals=Signals(promote=True)
    )
    assert d.status.phase == Phase.PROMOTING
    assert d.reason == "AnalysisSkipped"
    assert d.actions == (Action(ActionKind.PROMOTE, "2.0.0"),)
    assert d.status.analysis.skipped
    assert d.consumed == {Signal.PROMOTE}
    assert "analysis skipped by request" in d.message


def test_a_skipped_analysis_is_still_said_once_promoted() -> None:
    promoting = replace(
        shadowing(runs=1),
        phase=Phase.PROMOTING,
    )
    promoting = replace(promoting, analysis=replace(promoting.analysis, skipped=True))
    d = decide(
        spec=SPEC,
        status=promoting,
        measurements=None,
        now=AFTER_WARMUP,
        observed=Observed(live_version="2.0.0"),
    )
    assert d.status.phase == Phase.PROMOTED
    assert "analysis skipped by request" in d.message
    assert d.status.analysis.skipped
    assert RolloutStatus.from_dict(d.status.to_dict()).analysis.skipped


def test_abort_wins_over_promote() -> None:
    d = decide(
        spec=SPEC,
        status=shadowing(),
        measurements=None,
        now=AFTER_WARMUP,
        signals=Signals(abort=True, promote=True),
    )
    assert d.status.phase == Phase.ROLLED_BACK
