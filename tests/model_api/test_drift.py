"""Live input counting (understudy_model_api.drift): the buckets of the training reference,
unseen categories and nulls apart, the settings, and the merge across real processes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import start_model_api
from understudy_model.artifact import load_artifact
from understudy_model_api.drift import SHARES, TRAINED, VALUES
from understudy_operator.core import feature_drifts

COUNTS = f"{VALUES}_total"


def _by_bucket(samples: list[tuple[dict[str, str], float]]) -> dict[tuple[str, ...], float]:
    return {(lbl["feature"], lbl["kind"], lbl["bucket"]): v for lbl, v in samples}


def test_every_record_lands_in_one_bucket_per_feature(
    service_factory: Callable[..., Any], records: list[dict[str, Any]], artifacts: Any
) -> None:
    model = load_artifact(artifacts.v1)
    assert model.reference is not None
    records = [dict(r) for r in records]
    records[0]["Neighborhood"] = "Atlantis"  # unseen: accepted with a warning
    records[1]["Mas_Vnr_Type"] = None  # a null category
    with service_factory("v1") as svc:
        assert svc.post({"records": records}).status_code == 200
        counts = _by_bucket(svc.samples(COUNTS))
        shares = _by_bucket(svc.samples(SHARES))
        trained = svc.samples(TRAINED)
    per_feature: dict[str, float] = {}
    for (feature, _, _), value in counts.items():
        per_feature[feature] = per_feature.get(feature, 0.0) + value
    assert set(per_feature.values()) == {len(records)}
    assert len(per_feature) == len(model.schema.names) + 1  # and the predictions
    assert counts[("Neighborhood", "categorical", "_unseen")] == 1
    assert counts[("Mas_Vnr_Type", "categorical", "_null")] >= 1
    # A value on an edge belongs to that edge's bucket (le); above the top one, +Inf.
    edges = model.reference.numeric["Gr_Liv_Area"].edges
    bucket = next((repr(e) for e in edges if e >= records[2]["Gr_Liv_Area"]), "+Inf")
    assert counts[("Gr_Liv_Area", "numeric", bucket)] >= 1
    # The shares are the reference's, every feature's adding up to 1.
    totals: dict[str, float] = {}
    for (feature, _, _), share in shares.items():
        totals[feature] = totals.get(feature, 0.0) + share
    assert all(abs(t - 1) < 1e-6 for t in totals.values())
    assert shares.keys() == counts.keys()
    assert trained and trained[0][1] > 1.7e9


def test_a_subset_of_features_bounds_the_series(
    service_factory: Callable[..., Any], records: list[dict[str, Any]]
) -> None:
    with service_factory("v1", drift_features="Year_Built, Neighborhood") as svc:
        assert svc.post({"records": records}).status_code == 200
        features = {lbl["feature"] for lbl, _ in svc.samples(COUNTS)}
    assert features == {"Year_Built", "Neighborhood", "_prediction"}


def test_none_turns_counting_off(
    service_factory: Callable[..., Any], records: list[dict[str, Any]]
) -> None:
    with service_factory("v1", drift_features="none") as svc:
        assert svc.post({"records": records}).status_code == 200
        features = {lbl["feature"] for lbl, _ in svc.samples(COUNTS)}
    assert features == {"_prediction"}


def test_an_unknown_feature_stops_start_up_with_its_name(
    service_factory: Callable[..., Any],
) -> None:
    with (
        pytest.raises(ValueError, match="Year_Bilt"),
        service_factory("v1", drift_features="Year_Bilt"),
    ):
        pass


def _read(text: str) -> dict[str, dict[tuple[str, ...], float]]:
    out: dict[str, dict[tuple[str, ...], float]] = {COUNTS: {}, SHARES: {}}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name in out:
                out[s.name][(s.labels["feature"], s.labels["kind"], s.labels["bucket"])] = s.value
    return out


@pytest.mark.integration
def test_two_processes_merge_to_what_one_app_counts(
    artifacts: Any, records: list[dict[str, Any]], service_factory: Callable[..., Any]
) -> None:
    """Two real model-api processes each get half of the traffic, one app (in process) all
    of it: the summed counters are equal, and so is the drift computed from them (the
    shares, summed over two pods, are normalised away)."""
    halves = [records[::2], records[1::2]]

    def send(post: Callable[..., Any], part: list[dict[str, Any]]) -> None:
        for record in part:  # one record per request, as a router sends them
            assert post(json={"records": [record]}).status_code == 200

    with start_model_api(artifacts.v1) as a, start_model_api(artifacts.v1) as b:
        scrapes = []
        for service, part in ((a, halves[0]), (b, halves[1])):
            url = f"{service.url}/v1/predictions"
            send(lambda **kw: httpx.post(url, timeout=30, **kw), part)  # noqa: B023
            scrapes.append(_read(httpx.get(f"{service.url}/metrics", timeout=10).text))
    with service_factory("v1") as whole:
        send(lambda **kw: whole.client.post("/v1/predictions", **kw), records)
        scrapes.append(_read(whole.client.get("/metrics").text))
    merged = {
        name: {k: scrapes[0][name][k] + scrapes[1][name][k] for k in scrapes[2][name]}
        for name in (COUNTS, SHARES)
    }
    assert merged[COUNTS] == scrapes[2][COUNTS]
    features = {key[0] for key in merged[COUNTS]}
    assert sum(merged[COUNTS].values()) == len(records) * len(features)
    drifts_merged, _ = feature_drifts(merged[COUNTS], merged[SHARES])
    drifts_whole, _ = feature_drifts(scrapes[2][COUNTS], scrapes[2][SHARES])
    assert [(d.feature, round(d.psi, 12)) for d in drifts_merged] == [
        (d.feature, round(d.psi, 12)) for d in drifts_whole
    ]
