"""RolloutStatus: the custom resource's status, to and from its dict, and its conditions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from understudy_operator.core import (
    AnalysisStatus,
    CheckResult,
    Condition,
    Phase,
    RolloutStatus,
    Verdict,
)

CRD = Path(__file__).resolve().parents[2] / "k8s" / "crd" / "modelrollouts.yaml"
T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)

# Every field set, each to a value of its own, so a field read from the wrong key shows.
FULL = RolloutStatus(
    phase=Phase.SHADOWING,
    stable_version="1.0.0",
    candidate_version="2.0.0",
    message="shadowing 2.0.0",
    phase_since=T0,
    analysis=AnalysisStatus(
        started_at=T0 + timedelta(seconds=1),
        last_run_at=T0 + timedelta(seconds=2),
        runs=3,
        successful=4,
        consecutive_successful=5,
        failed=6,
        inconclusive=7,
        consecutive_inconclusive=8,
        undecided=11,
        resumed_at=T0 + timedelta(seconds=3),
        samples=9,
        last_verdict=Verdict.FAIL,
        checks=(
            CheckResult(
                "agreement-rate", 0.5, ">= 0.9", Verdict.FAIL, "too low", 0.4, 0.6, samples=12
            ),
            CheckResult("prediction-ks", None, "<= 0.1", Verdict.INCONCLUSIVE, "no data"),
        ),
        spec_fingerprint="abc123",
    ),
    conditions=(Condition("Ready", "True", "StableServing", "ok", T0),),
    observed_generation=10,
)


def _crd_status() -> dict[str, Any]:
    doc = yaml.safe_load(CRD.read_text())
    schema: dict[str, Any] = doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema["properties"]["status"]["properties"]


def test_the_status_dict_has_exactly_the_crds_fields() -> None:
    crd = _crd_status()
    out = FULL.to_dict()
    assert set(out) == set(crd)
    assert set(out["analysis"]) == set(crd["analysis"]["properties"])
    check_fields = crd["analysis"]["properties"]["checks"]["items"]["properties"]
    assert set(out["analysis"]["checks"][0]) == set(check_fields)
    assert set(out["conditions"][0]) == set(crd["conditions"]["items"]["properties"])


def test_phases_and_verdicts_are_the_crds_enums() -> None:
    crd = _crd_status()
    phases = [RolloutStatus(phase=p).to_dict()["phase"] for p in Phase]
    verdicts = [AnalysisStatus(last_verdict=v).to_dict()["lastVerdict"] for v in Verdict]
    assert crd["phase"]["enum"] == phases
    assert crd["analysis"]["properties"]["lastVerdict"]["enum"] == verdicts


def test_every_field_survives_the_round_trip() -> None:
    assert RolloutStatus.from_dict(FULL.to_dict()) == FULL


def test_the_dict_is_what_kubectl_shows() -> None:
    out = FULL.to_dict()
    assert out["phase"] == "Shadowing"
    assert out["phaseSince"] == "2025-01-01T12:00:00Z"
    assert out["analysis"]["lastVerdict"] == "Fail"
    assert out["analysis"]["startedAt"] == "2025-01-01T12:00:01Z"
    # no data is an absent value, not null
    assert out["analysis"]["checks"][1] == {
        "name": "prediction-ks",
        "threshold": "<= 0.1",
        "verdict": "Inconclusive",
        "message": "no data",
    }
    assert out["conditions"][0]["lastTransitionTime"] == "2025-01-01T12:00:00Z"


def test_a_zero_value_is_kept_not_dropped() -> None:
    result = CheckResult("candidate-error-rate", 0.0, "<= 0.01", Verdict.PASS, "ok")
    assert result.to_dict()["value"] == 0.0
    assert CheckResult.from_dict(result.to_dict()) == result


def test_unset_fields_are_null_so_a_merge_patch_clears_them() -> None:
    out = RolloutStatus().to_dict()
    assert out["phase"] == "Pending"
    assert out["stableVersion"] is None and out["candidateVersion"] is None
    assert out["phaseSince"] is None and out["observedGeneration"] is None
    assert out["analysis"]["startedAt"] is None and out["analysis"]["lastVerdict"] is None


@pytest.mark.parametrize("empty", [None, {}])
def test_no_status_yet_is_pending(empty: dict | None) -> None:
    assert RolloutStatus.from_dict(empty) == RolloutStatus()
    assert RolloutStatus().phase == Phase.PENDING
    assert AnalysisStatus.from_dict(empty) == AnalysisStatus()


def test_a_status_written_by_hand_is_read_leniently() -> None:
    status = RolloutStatus.from_dict(
        {
            "phase": "Dancing",
            "stableVersion": "",
            "message": None,
            "analysis": {"runs": "three", "samples": 12.0, "startedAt": "", "checks": [{}]},
            "conditions": [{"type": "Ready"}, {}],
        }
    )
    assert status.phase == Phase.PENDING
    assert status.stable_version is None
    assert status.message == ""
    assert (status.analysis.runs, status.analysis.samples) == (0, 12)
    assert status.analysis.started_at is None
    assert status.analysis.checks == (CheckResult("", None, "", Verdict.INCONCLUSIVE, ""),)
    assert status.conditions == (
        Condition("Ready", "Unknown", "", "", None),
        Condition("", "Unknown", "", "", None),
    )


def _conditions(status: RolloutStatus) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in status.with_conditions(T0).conditions}


def test_conditions_follow_the_phase() -> None:
    assert _conditions(RolloutStatus()) == {
        "Ready": ("False", "NoStableVersion"),
        "Progressing": ("True", "Pending"),
        "Promoted": ("False", "Pending"),
    }
    assert _conditions(RolloutStatus(phase=Phase.PROMOTED, stable_version="1.0.0")) == {
        "Ready": ("True", "StableServing"),
        "Progressing": ("False", "Promoted"),
        "Promoted": ("True", "Promoted"),
    }
    assert _conditions(FULL)["Progressing"] == ("True", "Shadowing")
    assert _conditions(RolloutStatus(phase=Phase.ROLLED_BACK))["Progressing"][0] == "False"


def test_a_condition_keeps_its_transition_time_until_its_status_changes() -> None:
    first = RolloutStatus(phase=Phase.SHADOWING, stable_version="1.0.0").with_conditions(T0)
    later = T0 + timedelta(minutes=5)
    same = first.with_conditions(later)
    assert all(c.last_transition_time == T0 for c in same.conditions)
    promoted = RolloutStatus(
        phase=Phase.PROMOTED, stable_version="1.0.0", conditions=first.conditions, message="m"
    ).with_conditions(later)
    times = {c.type: c.last_transition_time for c in promoted.conditions}
    assert times == {"Ready": T0, "Progressing": later, "Promoted": later}
    assert {c.message for c in promoted.conditions} == {"m"}
