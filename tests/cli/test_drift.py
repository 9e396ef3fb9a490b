"""``understudy drift``: features ranked from a model-api's /metrics (pods summed) and from a
real Prometheus, the same numbers both ways; exit codes; the plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.support.model_api import running
from tests.support.processes import start_model_api
from tests.support.prometheus import PrometheusServer
from understudy_cli import drift
from understudy_cli.demo.scrape import Snapshot
from understudy_cli.main import EXIT_BACKEND_FAILED, main
from understudy_model.data import Split, holdout_records


def _newer_houses(split: Split, n: int) -> list[dict[str, Any]]:
    """Holdout houses drawn with six times the weight for the newest 30%."""
    records = holdout_records(split)
    years = np.array([r["Year_Built"] for r in records])
    weights = np.where(years >= np.quantile(years, 0.7), 6.0, 1.0)
    rng = np.random.default_rng(5)
    return [records[i] for i in rng.choice(len(records), n, p=weights / weights.sum())]


def _metrics_text(artifact: Path, records: list[dict[str, Any]]) -> str:
    with running(artifact) as svc:
        assert svc.post({"records": records}).status_code == 200
        return str(svc.client.get("/metrics").text)


def test_two_pods_are_summed_and_the_newest_houses_rank_first(
    artifacts: Any, ames_split: Split
) -> None:
    shifted = _newer_houses(ames_split, 600)
    pods = [
        Snapshot.parse(_metrics_text(artifacts.v1, part), taken_at=0.0)
        for part in (shifted[:300], shifted[300:])
    ]
    evidence = drift.from_snapshots(pods)
    inputs, prediction, silent = drift.rank(evidence)
    assert (evidence.model, evidence.version) == ("house-prices", "1.0.0")
    assert {d.samples for d in inputs} == {600} and silent == []
    assert inputs[0].psi > 0.2
    assert "Year_Built" in {d.feature for d in inputs[:3]}
    assert prediction is not None and prediction.samples == 600
    assert "Year_Built" in drift.summary(inputs, bound=0.2)


def test_two_versions_in_one_source_must_be_told_apart(artifacts: Any, ames_split: Split) -> None:
    records = holdout_records(ames_split, limit=5)
    both = [
        Snapshot.parse(_metrics_text(a, records), taken_at=0.0)
        for a in (artifacts.v1, artifacts.v2)
    ]
    with pytest.raises(drift.DriftSourceError, match="several models or versions"):
        drift.from_snapshots(both)
    assert drift.from_snapshots(both, version="2.0.0").version == "2.0.0"


def test_no_drift_series_is_a_backend_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(drift.DriftSourceError, match="no drift series"):
        drift.from_snapshots([Snapshot.parse("up 1\n", taken_at=0.0)])
    assert main(["drift", "--url", "http://127.0.0.1:9"]) == EXIT_BACKEND_FAILED
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.integration
def test_cli_from_metrics_and_from_prometheus_agree(
    artifacts: Any,
    ames_split: Split,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A real model-api process and a real Prometheus scraping it: the CLI ranks the same
    features with the same PSI from either, exits 1 (drift over the bound) and plots."""
    shifted = _newer_houses(ames_split, 600)
    with start_model_api(artifacts.v1) as api, PrometheusServer(tmp_path / "prom") as prom:
        target = api.url.removeprefix("http://")
        prom.set_targets([target])
        prom.wait_until_scraped([target])
        for start in range(0, len(shifted), 50):
            answer = httpx.post(
                f"{api.url}/v1/predictions", json={"records": shifted[start : start + 50]}
            )
            assert answer.status_code == 200
        prom.wait_for_series('understudy_model_api_drift_values_total{feature="Year_Built"}')
        direct = drift.rank(drift.from_metrics([api.url]))[0]

        def counted() -> bool:
            found = drift.rank(
                drift.from_prometheus(prom.url, model="house-prices", version="1.0.0", window="1h")
            )[0]
            return bool(found) and found[0].samples == 600

        prom.wait_until(counted, "Prometheus has scraped all 600 records", timeout=30)
        via_prometheus = drift.rank(
            drift.from_prometheus(prom.url, model="house-prices", version="1.0.0", window="1h")
        )[0]
        plot = tmp_path / "drift.png"
        code = main(["drift", "--url", api.url, "--plot", str(plot), "--top", "5"])
    assert [(d.feature, round(d.psi, 9)) for d in direct] == [
        (d.feature, round(d.psi, 9)) for d in via_prometheus
    ]
    out = capsys.readouterr().out
    assert code == 1
    assert direct[0].feature in out and "| feature |" in out
    assert plot.stat().st_size > 10_000
