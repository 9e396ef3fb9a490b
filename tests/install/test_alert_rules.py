"""The chart's alert rules (helm/understudy/files/alert-rules.yaml) under promtool.

`promtool test rules` runs each rule on input series written here (one row per case: the
alert fires with these labels and this summary, or stays quiet), and every alert in the file
has at least one firing and one quiet case. The rules' expressions against a real
Prometheus scraping real processes: tests/install/test_alert_rules_live.py.

The unit tests run on a copy of the file without the `description` annotations: promtool
compares annotations exactly, and the descriptions are prose (their templates are still
checked by `promtool check rules` on the file as it is).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.layout import ALERT_RULES
from tests.support.promtool import promtool


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERT_RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_rules_file_passes_promtool_check() -> None:
    r = promtool("check", "rules", str(ALERT_RULES))
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"SUCCESS: {len(rules())} rules found" in r.stdout


def test_every_rule_is_an_alert_with_a_severity_and_a_summary() -> None:
    names = [rule.get("alert") for rule in rules()]
    assert all(names) and len(set(names)) == len(names), names
    for rule in rules():
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert rule["alert"].startswith("Understudy"), rule["alert"]


@dataclass(frozen=True)
class Case:
    """At ``at``, ``alert`` fires exactly with ``fires`` (labels + summary); [] = quiet."""

    alert: str
    series: dict[str, str]
    at: str
    fires: list[dict[str, str]] = field(default_factory=list)


ROUTER_OK = 'understudy_router_requests_total{model="m",live_version="1.0.0",outcome="live_ok"}'
ROUTER_ERR = 'understudy_router_requests_total{model="m",live_version="1.0.0",outcome="live_error"}'


def mirror(outcome: str) -> str:
    return (
        f'understudy_router_mirror_total{{model="m",candidate_version="2.0.0",outcome="{outcome}"}}'
    )


def phase(name: str) -> str:
    return f'understudy_operator_rollouts{{phase="{name}"}}'


MIRROR_LABELS = {"model": "m", "candidate_version": "2.0.0"}


def drift_series(a: str, b: str) -> dict[str, str]:
    """One feature with two reference buckets of 50% each; ``a`` and ``b`` the per-minute
    values of the live counters of the two buckets."""

    def name(metric: str, bucket: str) -> str:
        labels = f'model="m",version="1.0.0",feature="Year_Built",kind="numeric",bucket="{bucket}"'
        return f"understudy_model_api_{metric}{{{labels}}}"

    return {
        name("drift_reference_share", "1990.0"): "0.5x90",
        name("drift_reference_share", "+Inf"): "0.5x90",
        name("drift_values_total", "1990.0"): a,
        name("drift_values_total", "+Inf"): b,
    }


TRAINED = 'understudy_model_api_model_trained_timestamp_seconds{model="m",version="1.0.0"}'
DAY = 86400

CASES = [
    # -- rollouts, from the operator's per-phase gauge -------------------------------------
    Case("UnderstudyRolloutPaused", {phase("Paused"): "0 1x20"}, "4m"),  # pending (for 5m)
    Case(
        "UnderstudyRolloutPaused",
        {phase("Paused"): "0 2x20"},
        "10m",
        [
            {
                "phase": "Paused",
                "severity": "warning",
                "summary": "2 ModelRollout(s) paused: analysis found no evidence",
            }
        ],
    ),
    Case("UnderstudyRolloutPaused", {phase("Paused"): "0x20", phase("Shadowing"): "1x20"}, "10m"),
    Case("UnderstudyRolloutRolledBack", {phase("RolledBack"): "0 0 1x5"}, "1m"),
    Case(
        "UnderstudyRolloutRolledBack",
        {phase("RolledBack"): "0 0 1x5"},
        "2m",
        [
            {
                "phase": "RolledBack",
                "severity": "warning",
                "summary": "1 ModelRollout(s) rolled back their candidate",
            }
        ],
    ),
    Case("UnderstudyRolloutFailed", {phase("Failed"): "0x10"}, "5m"),
    Case(
        "UnderstudyRolloutFailed",
        {phase("Failed"): "1x10"},
        "5m",
        [
            {
                "phase": "Failed",
                "severity": "critical",
                "summary": "1 ModelRollout(s) failed: their spec cannot be acted on",
            }
        ],
    ),
    Case("UnderstudyRolloutStuck", {phase("Deploying"): "1x40"}, "29m"),
    Case("UnderstudyRolloutStuck", {phase("Shadowing"): "1x40"}, "35m"),  # analysis takes long
    Case(
        "UnderstudyRolloutStuck",
        {phase("Deploying"): "1x40", phase("Promoting"): "0x40"},
        "31m",
        [
            {
                "phase": "Deploying",
                "severity": "warning",
                "summary": "ModelRollout(s) in phase Deploying for more than 30 minutes",
            }
        ],
    ),
    Case("UnderstudyRolloutAwaitingApproval", {phase("AwaitingApproval"): "1x1500"}, "23h"),
    Case(
        "UnderstudyRolloutAwaitingApproval",
        {phase("AwaitingApproval"): "1x1500"},
        "24h1m",
        [
            {
                "phase": "AwaitingApproval",
                "severity": "info",
                "summary": "ModelRollout(s) waiting for approval for more than a day",
            }
        ],
    ),
    # -- the operator itself -----------------------------------------------------------------
    Case("UnderstudyOperatorDown", {'up{component="operator"}': "1x20"}, "15m"),
    Case(
        "UnderstudyOperatorDown",
        {'up{component="operator"}': "1x5 0x20", 'up{component="router"}': "1x25"},
        "12m",
        [{"severity": "critical", "summary": "The Understudy operator is down or not scraped"}],
    ),
    Case(  # never discovered at all
        "UnderstudyOperatorDown",
        {'up{component="router"}': "1x20"},
        "6m",
        [{"severity": "critical", "summary": "The Understudy operator is down or not scraped"}],
    ),
    # -- the router -------------------------------------------------------------------------
    Case("UnderstudyRouterLiveErrors", {ROUTER_OK: "0+100x20", ROUTER_ERR: "0+0x20"}, "15m"),
    Case(
        "UnderstudyRouterLiveErrors",
        {ROUTER_OK: "0+95x20", ROUTER_ERR: "0+5x20"},
        "15m",
        [
            {
                "model": "m",
                "severity": "critical",
                "summary": "m: 5% of prediction requests fail",
            }
        ],
    ),
    Case(
        "UnderstudyRouterNotRouting",
        {'understudy_router_routing_configured{model="m",pod="a"}': "1x20"},
        "18m",
    ),
    Case(
        "UnderstudyRouterNotRouting",
        {
            'understudy_router_routing_configured{model="m",pod="a"}': "0x20",
            'understudy_router_routing_configured{model="m",pod="b"}': "0x20",
        },
        "16m",
        [
            {
                "model": "m",
                "severity": "warning",
                "summary": "m: the shadow router has no live model configured",
            }
        ],
    ),
    Case(
        "UnderstudyMirrorDrops", {mirror("agreed"): "0+99x20", mirror("dropped"): "0+1x20"}, "15m"
    ),
    Case(
        "UnderstudyMirrorDrops",
        {mirror("agreed"): "0+90x20", mirror("dropped"): "0+10x20"},
        "15m",
        [
            {
                **MIRROR_LABELS,
                "severity": "warning",
                "summary": "m 2.0.0: 10% of mirrors dropped",
            }
        ],
    ),
    Case(  # many drops, no candidate error: not the candidate's fault
        "UnderstudyCandidateErrors",
        {mirror("agreed"): "0+50x20", mirror("dropped"): "0+50x20"},
        "15m",
    ),
    Case(
        "UnderstudyCandidateErrors",
        {
            mirror("agreed"): "0+80x20",
            mirror("candidate_error"): "0+10x20",
            mirror("candidate_timeout"): "0+10x20",
            mirror("dropped"): "0+100x20",
        },
        "15m",
        [
            {
                **MIRROR_LABELS,
                "severity": "warning",
                "summary": "m candidate 2.0.0: 20% of mirrored requests fail",
            }
        ],
    ),
    # -- model inputs, from the model-api's drift counters and trained_at gauge ------------
    Case("UnderstudyInputDrift", drift_series("0+10x90", "0+10x90"), "80m"),  # as trained
    # 90% of the live values in one bucket, 10% in the other: PSI 0.88, for 30 minutes
    Case("UnderstudyInputDrift", drift_series("0+1x90", "0+0x90"), "80m"),  # too few records
    Case(
        "UnderstudyInputDrift",
        drift_series("0+18x90", "0+2x90"),
        "80m",
        [
            {
                "model": "m",
                "version": "1.0.0",
                "feature": "Year_Built",
                "severity": "warning",
                "summary": "m 1.0.0: input Year_Built has drifted from training (PSI 0.88)",
            }
        ],
    ),
    Case("UnderstudyModelStale", {TRAINED: f"{-30 * DAY}x120"}, "90m"),  # 30 days old
    Case(
        "UnderstudyModelStale",
        {TRAINED: f"{-100 * DAY}x120"},  # 100 days before the test's time 0
        "90m",
        [
            {
                "model": "m",
                "version": "1.0.0",
                "severity": "info",
                "summary": "m 1.0.0 was trained 100d 1h 30m 0s ago",
            }
        ],
    ),
]


def _rules_without_descriptions(path: Path) -> None:
    groups = yaml.safe_load(ALERT_RULES.read_text())
    for group in groups["groups"]:
        for rule in group["rules"]:
            rule["annotations"].pop("description", None)
    path.write_text(yaml.safe_dump(groups))


def _test_file(case: Case) -> dict[str, Any]:
    expected = []
    for alert in case.fires:
        labels = {k: v for k, v in alert.items() if k != "summary"}
        expected.append({"exp_labels": labels, "exp_annotations": {"summary": alert["summary"]}})
    return {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in case.series.items()],
                "alert_rule_test": [
                    {"eval_time": case.at, "alertname": case.alert, "exp_alerts": expected}
                ],
            }
        ],
    }


def _case_id(case: Case) -> str:
    return f"{case.alert}-{'fires' if case.fires else 'quiet'}-at-{case.at}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_promtool_unit_test(case: Case, tmp_path: Path) -> None:
    _rules_without_descriptions(tmp_path / "rules.yaml")
    test = tmp_path / "test.yaml"
    test.write_text(yaml.safe_dump(_test_file(case)))
    r = promtool("test", "rules", str(test))
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    fires = {c.alert for c in CASES if c.fires}
    quiet = {c.alert for c in CASES if not c.fires}
    names = {rule["alert"] for rule in rules()}
    assert names - fires == set(), "alerts never shown firing"
    assert names - quiet == set(), "alerts never shown quiet"
