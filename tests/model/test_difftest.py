"""The differential test tool: pure core, artifact and service sources, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from understudy_common.compare import Tolerance
from understudy_model import difftest
from understudy_model.cli import main

STRICT = Tolerance(relative=1e-9, absolute=0.0)


class TestEvaluate:
    def test_identical_predictions_pass(self) -> None:
        report = difftest.evaluate(
            reference=[1.0, 2.0], candidate=[1.0, 2.0], tolerance=STRICT, max_mismatch_fraction=0
        )
        assert report.passed and report.mismatches == 0 and report.max_rel_diff == 0

    @pytest.mark.parametrize(
        ("candidate", "allowed", "passed"),
        [
            ([1.0, 2.0, 3.3], 0.0, False),
            ([1.0, 2.0, 3.3], 0.34, True),
            ([1.0, 2.0, 3.3], 0.33, False),
        ],
    )
    def test_mismatch_fraction_against_the_limit(
        self, candidate: list[float], allowed: float, passed: bool
    ) -> None:
        report = difftest.evaluate(
            reference=[1.0, 2.0, 3.0],
            candidate=candidate,
            tolerance=STRICT,
            max_mismatch_fraction=allowed,
        )
        assert report.mismatches == 1
        assert report.passed is passed
        assert report.worst[0].index == 2 and not report.worst[0].agree
        assert report.max_rel_diff == pytest.approx(0.1)

    @pytest.mark.parametrize(
        ("reference", "candidate", "errors", "problem"),
        [
            ([1.0], [1.0, 2.0], (), "gave 1 predictions"),
            ([], [], (), "no records"),
            ([1.0], [float("nan")], (), "NaN"),
            ([], [], ("candidate: ConnectError",), "ConnectError"),
        ],
    )
    def test_failures_make_a_failed_report_not_an_exception(
        self, reference: list[float], candidate: list[float], errors: Any, problem: str
    ) -> None:
        report = difftest.evaluate(
            reference=reference,
            candidate=candidate,
            tolerance=STRICT,
            max_mismatch_fraction=1.0,
            errors=errors,
        )
        assert not report.passed
        assert any(problem in e for e in report.errors)
        assert "FAIL" in difftest.render_table(report)


def test_payload_files(tmp_path: Path) -> None:
    records = [{"a": 1}, {"a": 2}]
    for name, text in [
        ("envelope.json", json.dumps({"records": records})),
        ("list.json", json.dumps(records)),
        ("lines.jsonl", "\n".join(json.dumps(r) for r in records)),
    ]:
        (tmp_path / name).write_text(text)
        assert difftest.load_payloads(tmp_path / name) == records
    (tmp_path / "bad.json").write_text(json.dumps({"records": [1]}))
    with pytest.raises(ValueError, match="expected"):
        difftest.load_payloads(tmp_path / "bad.json")


def test_holdout_sample_is_fixed_by_its_seed() -> None:
    first = difftest.holdout_sample(sample=30, seed=3)
    assert first == difftest.holdout_sample(sample=30, seed=3)
    assert first != difftest.holdout_sample(sample=30, seed=4)
    assert len(first) == 30


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_fast_path_vs_reference_on_all_holdout_rows(
    artifacts: Any, version: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(getattr(artifacts, version))
    out = tmp_path / "fast.json"
    fast = difftest.ArtifactSource(Path(path), path="fast")
    reference = difftest.ArtifactSource(Path(path), path="reference")
    records = difftest.holdout_sample(sample=None, seed=0)
    report = difftest.evaluate(
        reference=reference.predict(records),
        candidate=fast.predict(records),
        tolerance=STRICT,
        max_mismatch_fraction=0.0,
    )
    assert report.passed and report.records == 586
    assert report.max_rel_diff is not None and report.max_rel_diff <= 1e-9
    code = main(["difftest", "--reference", path, "--candidate", path, "--path", "fast",
                 "--sample", "0", "--report", str(out)])  # fmt: skip
    assert code == 0
    assert json.loads(out.read_text())["passed"] is True


def test_v1_vs_v2_differ_and_the_tool_fails_saying_by_how_much(
    artifacts: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "v1-v2.json"
    code = main(
        ["difftest", "--reference", str(artifacts.v1), "--candidate", str(artifacts.v2),
         "--sample", "100", "--seed", "1", "--rel-tol", "0.1", "--abs-tol", "10000",
         "--max-mismatch-fraction", "0.05", "--report", str(out)]
    )  # fmt: skip
    assert code == 1
    printed = capsys.readouterr().out
    assert "FAIL" in printed and "outside tolerance" in printed
    report = json.loads(out.read_text())
    assert report["passed"] is False
    assert report["records"] == 100
    assert report["mismatch_fraction"] > 0.05
    assert report["max_abs_diff"] > 10_000
    assert "1.0.0" in report["reference"] and "2.0.0" in report["candidate"]


def test_an_unreachable_service_fails_the_test(artifacts: Any, tmp_path: Path) -> None:
    out = tmp_path / "down.json"
    code = main(["difftest", "--reference", str(artifacts.v1), "--candidate",
                 "http://127.0.0.1:9", "--sample", "5", "--report", str(out)])  # fmt: skip
    assert code == 1
    assert "ConnectError" in " ".join(json.loads(out.read_text())["errors"])


@pytest.mark.integration
def test_research_pipeline_vs_the_running_service(artifacts: Any, tmp_path: Path) -> None:
    from tests.support.processes import start_service

    env = {"UNDERSTUDY_MODEL_API_ARTIFACT_DIR": str(artifacts.v2)}
    with start_service("understudy_model_api", env=env) as service:
        out = tmp_path / "service.json"
        code = main(["difftest", "--reference", str(artifacts.v2), "--candidate", service.url,
                     "--sample", "0", "--report", str(out)])  # fmt: skip
    report = json.loads(out.read_text())
    assert code == 0, report
    assert report["records"] == 586 and report["max_rel_diff"] <= 1e-9
    assert "version 2.0.0" in report["candidate"]
