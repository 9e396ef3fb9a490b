"""End to end: `understudy model pack` then `understudy shadow` as a user runs them, for a
regressor and a classifier, each with a candidate that is promoted and one that is rolled
back; and `understudy demo --example breast-cancer`. Real model-api and router processes,
the operator's decision core, a report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.support.local_rollout import LATENCY_P90_POINT, fast_spec
from tests.support.packed import write_classifier, write_messy_regressor

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _spec(task: str, checks: list[dict], tolerance: dict) -> dict:
    """Short settings: this test is about the mechanism, not the thresholds."""
    return fast_spec(
        model={"name": "ignored", "version": "0.0.0", "task": task},
        tolerance=tolerance,
        checks=[LATENCY_P90_POINT, *checks],
    )


def understudy(*args: str | Path, cwd: Path, timeout: float = 400) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "understudy_cli", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _pack(cwd: Path, pipeline: Path, sample: Path, version: str, task: str, target: str) -> Path:
    out = cwd / f"art-{version}"
    done = understudy(
        "model", "pack", "--pipeline", pipeline, "--sample", sample, "--name", "m",
        "--version", version, "--task", task, "--target", target, "--out", out, cwd=cwd,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"packed m {version}" in done.stdout
    return out


def _shadow(cwd: Path, live: Path, candidate: Path, traffic: Path, config: Path) -> dict:
    done = understudy(
        "shadow", "--live", live, "--candidate", candidate, "--traffic", traffic,
        "--config", config, "--plain", "--metrics", "router", "--max-seconds", "240",
        cwd=cwd,
    )  # fmt: skip
    summary_line = [line for line in done.stdout.splitlines() if line.startswith("report:")]
    assert summary_line, done.stdout + done.stderr
    report = cwd / summary_line[0].split(maxsplit=1)[1]
    summary = json.loads((report.parent / "summary.json").read_text())
    return {"code": done.returncode, "summary": summary, "report": report.read_text()}


def test_shadow_a_regressor_promoted_and_rolled_back(tmp_path: Path) -> None:
    live_model = write_messy_regressor(tmp_path / "live")
    similar = write_messy_regressor(tmp_path / "similar", model_seed=11)
    dearer = write_messy_regressor(tmp_path / "dearer", scale=1.5)
    live = _pack(tmp_path, live_model.pipeline, live_model.sample, "1.0.0", "regression", "price")
    good = _pack(tmp_path, similar.pipeline, live_model.sample, "1.1.0", "regression", "price")
    bad = _pack(tmp_path, dearer.pipeline, live_model.sample, "1.2.0", "regression", "price")
    config = tmp_path / "rollout.yaml"
    checks = [
        {"name": "agreement-rate", "min": 0.80},
        {"name": "bias", "min": -0.05, "max": 0.05},
    ]
    spec = _spec("regression", checks, {"relative": 0.10, "absolute": 0})
    config.write_text(yaml.safe_dump(spec))
    promoted = _shadow(tmp_path, live, good, live_model.sample, config)
    assert promoted["code"] == 0, promoted
    assert promoted["summary"]["phase"] == "Promoted"
    assert promoted["summary"]["task"] == "regression"
    assert "Shadow rollout of 1.1.0 beside 1.0.0" in promoted["report"]
    rolled_back = _shadow(tmp_path, live, bad, live_model.sample, config)
    assert rolled_back["code"] == 1, rolled_back
    assert rolled_back["summary"]["phase"] == "RolledBack"
    assert "bias" in rolled_back["summary"]["message"]


def test_shadow_a_classifier_rolled_back_and_the_example_promoted(tmp_path: Path) -> None:
    files = write_classifier(tmp_path / "user")
    live = _pack(tmp_path, files.v1, files.holdout, "1.0.0", "classification", "diagnosis")
    bad = _pack(tmp_path, files.bad, files.holdout, "2.0.0-bad", "classification", "diagnosis")
    config = tmp_path / "rollout.yaml"
    checks = [{"name": "agreement-rate", "min": 0.90}, {"name": "prediction-ks", "max": 0.2}]
    config.write_text(
        yaml.safe_dump(_spec("classification", checks, {"relative": 0, "absolute": 1}))
    )
    traffic = tmp_path / "traffic.jsonl"
    # The same records as request bodies, as JSON lines.
    frame = pd.read_csv(files.holdout).drop(columns=["diagnosis"])
    traffic.write_text(
        "\n".join(json.dumps({"records": [r]}) for r in frame.to_dict(orient="records")) + "\n"
    )
    rolled_back = _shadow(tmp_path, live, bad, traffic, config)
    assert rolled_back["code"] == 1, rolled_back
    assert rolled_back["summary"]["task"] == "classification"
    assert "agreement-rate" in rolled_back["summary"]["message"]
    # The worked example, with its packaged default config (shadow-classification.yaml).
    done = understudy(
        "demo", "--example", "breast-cancer", "--plain", "--metrics", "router",
        "--artifacts", tmp_path / "artifacts", "--max-seconds", "240", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert "decision: Promoted" in done.stdout
    assert "agreement-rate" in done.stdout and "prediction-ks" in done.stdout
    assert "bias" not in done.stdout  # not among a classifier's checks


def test_shadow_refuses_a_bad_traffic_file_and_mismatched_artifacts(tmp_path: Path) -> None:
    files = write_classifier(tmp_path / "user")
    live = _pack(tmp_path, files.v1, files.holdout, "1.0.0", "classification", "diagnosis")
    regressor = write_messy_regressor(tmp_path / "regressor")
    other = _pack(tmp_path, regressor.pipeline, regressor.sample, "2.0.0", "regression", "price")
    traffic = tmp_path / "traffic.jsonl"
    record = pd.read_csv(files.holdout).drop(columns=["diagnosis", "mean texture"]).iloc[0]
    traffic.write_text(json.dumps({"records": [record.to_dict()]}) + "\n{oops\n")
    done = understudy(
        "shadow", "--live", live, "--candidate", live, "--traffic", traffic, cwd=tmp_path
    )
    assert done.returncode == 2 and "both version 1.0.0" in done.stderr
    done = understudy(
        "shadow", "--live", live, "--candidate", other, "--traffic", traffic, cwd=tmp_path
    )
    assert done.returncode == 2
    assert "live 1.0.0 is a classification model, candidate 2.0.0 a regression one" in done.stderr
    bad = _pack(tmp_path, files.bad, files.holdout, "2.0.0-bad", "classification", "diagnosis")
    done = understudy(
        "shadow", "--live", live, "--candidate", bad, "--traffic", traffic, cwd=tmp_path
    )
    assert done.returncode == 2, done.stderr
    assert "bad traffic file" in done.stderr
    assert "line 1: field 'mean texture': field required" in done.stderr
    assert "line 2: not valid JSON" in done.stderr
    assert not (tmp_path / "reports").exists()  # nothing started
