"""End to end: the demo with ground truth — the label feed sends each house's true price to
the router, the run shows and reports live's and the candidate's realized MAE, and with
the packaged ground-truth config (``--ground-truth``) the decision rests on realized error."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.local_rollout import fast_spec
from understudy_cli.demo.config import (
    GROUND_TRUTH_CONFIG,
    ground_truth_checks,
    load_spec_mapping,
)
from understudy_operator.core import parse_spec

# Short analysis settings with the checks the core has today: the label feed and the
# realized-error display work with any config (--labels).
FAST_SPEC = fast_spec(checks=[{"name": "agreement-rate", "min": 0.70}])


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "understudy_cli", "demo", "--plain", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def _summary(out: Path) -> dict:
    (run,) = list(out.iterdir())
    return json.loads((run / "summary.json").read_text())


def _realized(summary: dict) -> dict[str, dict]:
    """The summary's realized error per role and version, keyed "role version"."""
    return {f"{e['role']} {e['version']}": e for e in summary["realized"]["by_role"]}


@pytest.mark.integration
@pytest.mark.slow
def test_labels_show_realized_mae_of_live_and_candidate_in_the_output_and_report(
    artifacts, tmp_path
):
    config = tmp_path / "rollout.yaml"
    config.write_text(yaml.safe_dump(FAST_SPEC))
    out = tmp_path / "reports"
    result = _demo(
        *("--config", str(config), "--artifacts", str(artifacts.v1.parent), "--out", str(out)),
        *("--labels", "--label-delay", "1s", "--rate", "50", "--metrics", "router"),
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "labels: each house's true price sent to http://127.0.0.1:" in output
    assert "/v1/feedback 1s after its answer" in output
    labels_line = next(line for line in output.splitlines() if line.startswith("labels:   "))
    assert "realized MAE: live 1.0.0 $" in labels_line
    assert "candidate 2.0.0 $" in labels_line and "on the same " in labels_line
    summary = _summary(out)
    assert summary["labels"]["failed"] == {} and summary["labels"]["given_up"] == 0
    assert summary["labels"]["outcomes"]["applied"] > 0
    assert set(summary["labels"]["outcomes"]) == {"applied"}
    realized = _realized(summary)
    # Once 2.0.0 is promoted the router answers with it until the demo stops (the old live
    # process takes a moment to stop), so labels of those answers count for "live 2.0.0".
    assert {"live 1.0.0", "candidate 2.0.0"} <= set(realized)
    assert set(realized) <= {"live 1.0.0", "candidate 2.0.0", "live 2.0.0"}
    # every applied label counted once for live (the feed's view = the router's)
    live_records = sum(e["records"] for e in summary["realized"]["by_role"] if e["role"] == "live")
    assert live_records == summary["labels"]["outcomes"]["applied"]
    for entry in realized.values():
        assert 5_000 < entry["mae"] < 60_000, entry  # dollars, the right order of magnitude
    (paired,) = summary["realized"]["paired"]
    assert paired["records"] == realized["candidate 2.0.0"]["records"]
    report = Path(summary["report"]).read_text()
    assert "## Ground truth" in report
    assert "| live | 1.0.0 |" in report and "| candidate | 2.0.0 |" in report
    assert "| 1.0.0 | 2.0.0 |" in report  # the paired table


@pytest.mark.integration
def test_labels_off_by_default_without_ground_truth_checks_and_bad_flags_are_usage_errors(
    tmp_path,
):
    result = _demo("--config", "x.yaml", "--ground-truth", "--out", str(tmp_path / "r"))
    assert result.returncode == 2
    assert "not allowed with argument" in result.stderr
    result = _demo("--label-delay", "soon", "--out", str(tmp_path / "r"))
    assert result.returncode == 2
    assert "--label-delay must be a duration like 500ms, 5s or 1m, got 'soon'" in result.stderr
    # the packaged default config has no ground-truth check: no label feed unless asked
    default = parse_spec(load_spec_mapping(None))
    assert ground_truth_checks(default) == []


def test_the_ground_truth_configs_require_label_coverage_and_realized_error():
    demo = parse_spec(load_spec_mapping(GROUND_TRUTH_CONFIG))
    assert ground_truth_checks(demo) == ["label-coverage", "realized-error-ratio"]
    example_path = Path(__file__).resolve().parents[2] / "k8s/examples/ground-truth.yaml"
    example = parse_spec(yaml.safe_load(example_path.read_text())["spec"])
    assert ground_truth_checks(example) == ["label-coverage", "realized-error-ratio"]


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize(
    ("scenario", "code", "outcome", "candidate", "live_mae", "candidate_mae"),
    [
        # v2: MAE $15.0k vs v1's $19.6k on the holdout; promoted because it is more accurate
        ("good", 0, "Promoted", "2.0.0", 19_553, 14_985),
        # v1 4% too cheap: every similarity check passes, MAE $21.0k: rolled back
        ("less-accurate", 1, "RolledBack", "1.0.1-minus4", 19_553, 20_993),
    ],
)
def test_ground_truth_decides_on_realized_error(
    artifacts, tmp_path, scenario, code, outcome, candidate, live_mae, candidate_mae
):
    out = tmp_path / "reports"
    shutil.copytree(artifacts.v1.parent, tmp_path / "artifacts")  # the shifted model beside
    result = _demo(
        *("--ground-truth", "--scenario", scenario, "--artifacts", str(tmp_path / "artifacts")),
        *("--out", str(out), "--rate", "80", "--max-seconds", "400"),
    )
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    decision = output.split("decision:")[1]
    assert decision.startswith(f" {outcome}")
    assert "realized-error-ratio" in decision.splitlines()[0]  # the reason names the check
    summary = _summary(out)
    (paired,) = summary["realized"]["paired"]
    assert paired["candidate_version"] == candidate
    assert (paired["ratio"] < 1.0) == (outcome == "Promoted")
    # Several passes over the 586 holdout houses by then: close to the holdout's MAEs.
    realized = _realized(summary)
    assert realized["live 1.0.0"]["mae"] == pytest.approx(live_mae, rel=0.15)
    assert realized[f"candidate {candidate}"]["mae"] == pytest.approx(candidate_mae, rel=0.15)
