"""Paired evidence and latency buckets from a real router between real model-apis
(v1 live, v2 candidate): the exported series add up to exactly what the records imply."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import httpx
import pytest
from prometheus_client.utils import floatToGoString

from tests.support.processes import ServiceProcess
from tests.support.router import label_sets, metric, routing_config, sum_by, wait_for
from understudy_common.compare import Tolerance, compare_predictions
from understudy_common.histogram import log_spaced_edges
from understudy_router.settings import RouterSettings

pytestmark = pytest.mark.integration

CANDIDATE = "2.0.0"
P = "understudy_router_paired_"
MAX_VALUES = 8  # fewer than the neighbourhoods in 90 holdout records: some pool as __other__


def predictions(
    client: httpx.Client, api: ServiceProcess, batch: list[dict[str, object]]
) -> list[float]:
    answer = client.post(f"{api.url}/v1/predictions", json={"records": batch})
    answer.raise_for_status()
    values: list[float] = answer.json()["predictions"]
    return values


def batched(part: list[dict[str, object]]) -> list[list[dict[str, object]]]:
    """Consecutive batches of 1, 2, 3, 1, 2, 3, ... records."""
    out, start, size = [], 0, 1
    while start < len(part):
        out.append(part[start : start + size])
        start, size = start + size, size % 3 + 1
    return out


def band(live: float, edges: tuple[float, ...]) -> str:
    """The band's label, found without the router's code: the first edge >= live."""
    return next((floatToGoString(e) for e in edges if live <= e), "+Inf")


def expected_of(
    batches: list[list[dict[str, object]]], live_api: ServiceProcess, cand_api: ServiceProcess
) -> list[dict[str, Any]]:
    """Per record: its live band, agreement, d (None where live is 0) and input record."""
    edges = RouterSettings().slice_edges
    out = []
    client = httpx.Client(timeout=30)
    for batch in batches:
        live = predictions(client, live_api, batch)
        cand = predictions(client, cand_api, batch)
        comparison = compare_predictions(live=live, candidate=cand, tolerance=Tolerance())
        for record, lv, cv, judged in zip(batch, live, cand, comparison.records, strict=True):
            out.append(
                {
                    "band": band(lv, edges),
                    "agree": "true" if judged.agree else "false",
                    "d": (cv - lv) / lv if lv else None,
                    "record": record,
                }
            )
    client.close()
    return out


def test_paired_series_add_up_to_what_the_records_imply(
    router_factory: Any,
    live_api: ServiceProcess,
    candidate_api: ServiceProcess,
    records: list[dict[str, object]],
) -> None:
    first = routing_config(live_api, (candidate_api.url, CANDIDATE), slice_field="Neighborhood")
    router = router_factory(first, slice_field_max_values=str(MAX_VALUES))
    batches = [batched(records[:90]), batched(records[90:180])]
    sent = [sum(len(b) for b in phase) for phase in batches]

    def compared(n: int) -> str | None:
        text = router.metrics()
        done = metric(text, "understudy_router_compared_records_total", candidate_version=CANDIDATE)
        return text if done == n else None

    for i, batch in enumerate(batches[0]):
        assert router.predict(batch, f"n-{i}").status_code == 200
    wait_for(lambda: compared(sent[0]), what="the first phase to be compared")
    # Slice by another field from now on: mirror jobs take the field of the config in force.
    router.apply({**first, "slice_field": "Mas_Vnr_Type"})
    for i, batch in enumerate(batches[1]):
        assert router.predict(batch, f"m-{i}").status_code == 200
    text = wait_for(lambda: compared(sum(sent)), what="the second phase to be compared")

    expected = [expected_of(b, live_api, candidate_api) for b in batches]
    everything = expected[0] + expected[1]
    n = len(everything)
    versions = {"model": "house-prices", "live_version": "1.0.0", "candidate_version": CANDIDATE}

    # Every record once under "all", and the agreement exactly as compared_records_total.
    records_by = sum_by(text, P + "records_total", ("slice_by", "slice", "agree"), **versions)
    by_agree = sum_by(text, "understudy_router_compared_records_total", ("agree",))
    assert {k[2]: v for k, v in records_by.items() if k[0] == "all"} == {
        agree: by_agree[(agree,)] for (agree,) in by_agree
    }
    assert sum(by_agree.values()) == n
    for slice_by, total in (("all", n), ("prediction", n), ("Neighborhood", sent[0])):
        assert sum(v for k, v in records_by.items() if k[0] == slice_by) == total
    assert sum(v for k, v in records_by.items() if k[0] == "Mas_Vnr_Type") == sent[1]

    # Bands of the live prediction, by agreement: exactly the expected counts.
    bands = Counter((e["band"], e["agree"]) for e in everything)
    assert {k[1:]: v for k, v in records_by.items() if k[0] == "prediction"} == bands
    assert len({b for b, _ in bands}) > 5  # the test spans many bands

    # Moments per band: counts exact; sums up to the order the mirror workers added them in.
    for family, part in (
        ("count", lambda d: 1),
        ("positive", lambda d: max(d, 0.0)),
        ("negative", lambda d: max(-d, 0.0)),
        ("squares", lambda d: d * d),
    ):
        got = sum_by(text, f"{P}rel_diff_{family}_total", ("slice", "slice_by"), **versions)
        want: dict[str, float] = {}
        for e in everything:
            if e["d"] is not None:
                want[e["band"]] = want.get(e["band"], 0.0) + part(e["d"])
        prediction = {k[0]: v for k, v in got.items() if k[1] == "prediction"}
        assert prediction.keys() == want.keys()
        for key, value in want.items():
            assert prediction[key] == (
                value if family == "count" else pytest.approx(value, rel=1e-12, abs=1e-15)
            ), (family, key)
    # The "all" slice counts what the signed relative difference histogram counts (which has
    # no _sum: prometheus_client leaves it out of a histogram with negative buckets).
    at_all = {"slice_by": "all", "slice": "all", **versions}
    assert metric(text, P + "rel_diff_count_total", **at_all) == metric(
        text, "understudy_router_signed_rel_diff_ratio_bucket", le="+Inf"
    )
    assert not metric(text, "understudy_router_signed_rel_diff_ratio_sum")
    assert metric(text, P + "rel_diff_squares_total", **at_all) == pytest.approx(
        metric(text, "understudy_router_signed_rel_diff_ratio_squares_total"), rel=1e-12
    )

    # Field slices, first phase: the first MAX_VALUES neighbourhoods the router saw have their
    # own series, each with all its records; the others are pooled under __other__.
    neighbourhoods = Counter((str(e["record"]["Neighborhood"]), e["agree"]) for e in expected[0])
    got_n = {k[1:]: v for k, v in records_by.items() if k[0] == "Neighborhood"}
    kept = {value for value, _ in got_n} - {"__other__"}
    assert len(kept) == MAX_VALUES < len({value for value, _ in neighbourhoods})
    assert {k: v for k, v in got_n.items() if k[0] in kept} == {
        k: v for k, v in neighbourhoods.items() if k[0] in kept
    }
    other = Counter[str]()
    for (value, agree), count in neighbourhoods.items():
        if value not in kept:
            other[agree] += count
    assert {agree: v for (value, agree), v in got_n.items() if value == "__other__"} == other
    # Second phase: a nullable field; null is "__missing__".
    veneers = Counter(
        (e["record"]["Mas_Vnr_Type"] or "__missing__", e["agree"]) for e in expected[1]
    )
    assert any(value == "__missing__" for value, _ in veneers)
    assert {k[1:]: v for k, v in records_by.items() if k[0] == "Mas_Vnr_Type"} == veneers

    # Latency: 121 buckets 1.1x apart plus +Inf, one observation per request and role.
    fine = [floatToGoString(e) for e in log_spaced_edges(0.0001, 10.0, 121)] + ["+Inf"]
    requests = sum(len(phase) for phase in batches)
    for role in ("live", "candidate"):
        le = [
            s["le"]
            for s in label_sets(text, "understudy_router_upstream_duration_seconds_bucket")
            if s["role"] == role
        ]
        assert le == fine
        assert metric(text, "understudy_router_upstream_duration_seconds_count", role=role) == (
            requests
        )
    assert math.isfinite(metric(text, "understudy_router_upstream_duration_seconds_sum"))
