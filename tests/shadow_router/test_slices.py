"""understudy_router.slices: the paired evidence's arithmetic, bands, field labels and bounds."""

from __future__ import annotations

import json
import math
import threading
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Histogram

from tests.support.router import label_sets, metric, samples
from understudy_common.compare import RecordComparison, Tolerance, compare_predictions
from understudy_common.metrics import render
from understudy_router.settings import RouterSettings
from understudy_router.slices import PairedEvidence, field_label, field_values

TOLERANCE = Tolerance(relative=0.10, absolute=10_000)
EDGES = (100_000.0, 200_000.0, 400_000.0)
P = "understudy_router_paired_"


def compared(pairs: list[tuple[float, float]]) -> tuple[RecordComparison, ...]:
    live = [lv for lv, _ in pairs]
    candidate = [cv for _, cv in pairs]
    return compare_predictions(live=live, candidate=candidate, tolerance=TOLERANCE).records


def exported(evidence: PairedEvidence) -> str:
    registry = CollectorRegistry()
    registry.register(evidence)
    return render(registry).decode()


def observe(
    evidence: PairedEvidence,
    pairs: list[tuple[float, float]],
    *,
    field: str | None = None,
    values: list[Any] | None = None,
) -> None:
    evidence.observe(
        live_version="1.0.0",
        candidate_version="2.0.0",
        records=compared(pairs),
        field=field,
        values=values if values is not None else (),
    )


def test_positive_and_negative_parts_squares_and_a_live_zero() -> None:
    evidence = PairedEvidence(model="m", edges=EDGES, max_field_values=50)
    # d = +0.1 (agrees: within 10%), -0.25 (disagrees), 0 (agrees); live 0: no d at all.
    observe(evidence, [(100_000, 110_000), (200_000, 150_000), (300_000, 300_000), (0, 5)])
    text = exported(evidence)
    every = {"model": "m", "live_version": "1.0.0", "candidate_version": "2.0.0"}
    at_all = {**every, "slice_by": "all", "slice": "all"}
    assert metric(text, P + "records_total", **at_all, agree="true") == 3  # 0 vs 5: $5 apart
    assert metric(text, P + "records_total", **at_all, agree="false") == 1
    assert metric(text, P + "rel_diff_count_total", **at_all) == 3  # the live 0 is left out
    assert metric(text, P + "rel_diff_positive_total", **at_all) == 0.1
    assert metric(text, P + "rel_diff_negative_total", **at_all) == 0.25
    assert metric(text, P + "rel_diff_squares_total", **at_all) == pytest.approx(
        0.01 + 0.0625, rel=1e-15
    )
    # Per band: each record once; the live 0 is in the lowest band, with records but no d.
    bands = {
        (s["slice"], s["agree"]): v
        for s, v in zip(
            label_sets(text, P + "records_total"),
            samples(text, P + "records_total"),
            strict=True,
        )
        if s["slice_by"] == "prediction"
    }
    assert bands == {
        ("100000.0", "true"): 2,  # live 100k (equal to the edge) and live 0
        ("200000.0", "false"): 1,
        ("400000.0", "true"): 1,
    }
    assert metric(text, P + "rel_diff_count_total", slice_by="prediction", slice="100000.0") == 1
    assert metric(text, P + "rel_diff_negative_total", slice_by="prediction") == 0.25
    assert metric(text, P + "rel_diff_positive_total", slice_by="prediction") == 0.1
    # No field configured: no third slice.
    assert {s["slice_by"] for s in label_sets(text, P + "records_total")} == {"all", "prediction"}


def test_the_exported_names_are_counters_with_total() -> None:
    evidence = PairedEvidence(model="m", edges=EDGES, max_field_values=50)
    observe(evidence, [(150_000, 160_000)], field="f", values=["x"])
    text = exported(evidence)
    assert f"# TYPE {P}records_total counter" in text
    names = {line.split("{")[0] for line in text.splitlines() if line.startswith(P)}
    assert names == {
        P + "records_total",
        P + "rel_diff_count_total",
        P + "rel_diff_positive_total",
        P + "rel_diff_negative_total",
        P + "rel_diff_squares_total",
    }
    [line] = [x for x in text.splitlines() if x.startswith(P + "records_total{") and 'by="f"' in x]
    assert line == (
        'understudy_router_paired_records_total{agree="true",candidate_version="2.0.0",'
        'live_version="1.0.0",model="m",slice="x",slice_by="f"} 1.0'
    )


@pytest.mark.parametrize(
    ("live", "band"),
    [
        (-5.0, "100000.0"),
        (0.0, "100000.0"),
        (99_999.99, "100000.0"),
        (100_000.0, "100000.0"),  # le: equal to an edge is in that edge's band
        (math.nextafter(100_000.0, math.inf), "200000.0"),
        (math.nextafter(200_000.0, 0), "200000.0"),
        (200_000.0, "200000.0"),
        (400_000.0, "400000.0"),
        (math.nextafter(400_000.0, math.inf), "+Inf"),
        (1e12, "+Inf"),
    ],
)
def test_band_of_a_live_prediction(live: float, band: str) -> None:
    assert PairedEvidence(model="m", edges=EDGES, max_field_values=1).band(live) == band


def test_band_labels_are_the_le_labels_prometheus_client_writes_for_the_same_edges() -> None:
    """Over the default bands, including the edges from 1e6 on that Go formats with an
    exponent (``1.5e+06``-style, not Python's ``1000000.0``)."""
    edges = RouterSettings().slice_edges
    assert len(edges) == 80
    registry = CollectorRegistry()
    reference = Histogram("h", "h", buckets=edges, registry=registry)
    reference.observe(1.0)
    le = [s["le"] for s in label_sets(render(registry).decode(), "h_bucket")]
    assert any("e+06" in label for label in le)
    evidence = PairedEvidence(model="m", edges=edges, max_field_values=1)
    assert [evidence.band(e) for e in edges] + [evidence.band(math.inf)] == le
    below = [evidence.band(math.nextafter(e, math.inf)) for e in edges]
    assert below == le[1:]


@pytest.mark.parametrize(
    ("value", "label"),
    [
        ("NAmes", "NAmes"),
        ("", ""),
        ("x" * 100, "x" * 64),
        (3, "3"),
        (-12, "-12"),
        (2.5, "2.5"),
        (3.0, "3"),
        (1e20, "1e+20"),
        (0.1 + 0.2, "0.3"),
        (True, "true"),
        (False, "false"),
        (None, "__missing__"),
        ([1, 2], "__other__"),
        ({"a": 1}, "__other__"),
    ],
)
def test_field_label_of_each_json_type(value: object, label: str) -> None:
    assert field_label(value) == label


def test_field_values_of_a_request_body() -> None:
    body = json.dumps(
        {"records": [{"f": "a", "g": 1}, {"g": 2}, {"f": None}, {"f": 7.5}, "not a record"]}
    ).encode()
    assert field_values(body, "f", 5) == ["a", None, None, 7.5, None]
    assert field_values(body, "f", 4) == [None] * 4  # another count than was answered
    assert field_values(b"{not json", "f", 2) == [None, None]
    assert field_values(b'{"rows": []}', "f", 1) == [None]
    assert field_values(b'{"records": [{"f": 1' + b"0" * 5000 + b"}]}", "f", 1) == [None]


def test_every_record_is_counted_once_per_slice_and_values_of_each_type_have_series() -> None:
    evidence = PairedEvidence(model="m", edges=EDGES, max_field_values=50)
    values: list[Any] = ["NAmes", 3, 2.5, True, None, "NAmes", [1]]
    pairs = [(150_000.0 + i, 150_000.0 + 2 * i) for i in range(len(values))]
    observe(evidence, pairs, field="Neighborhood", values=values)
    text = exported(evidence)
    by_field = {
        s["slice"]: v
        for s, v in zip(
            label_sets(text, P + "records_total"), samples(text, P + "records_total"), strict=True
        )
        if s["slice_by"] == "Neighborhood"
    }
    assert by_field == {
        "NAmes": 2,
        "3": 1,
        "2.5": 1,
        "true": 1,
        "__missing__": 1,
        "__other__": 1,
    }
    for slice_by in ("all", "prediction", "Neighborhood"):
        assert metric(text, P + "records_total", slice_by=slice_by) == len(values)
        assert metric(text, P + "rel_diff_count_total", slice_by=slice_by) == len(values)


def test_values_beyond_the_bound_are_pooled_under_other() -> None:
    evidence = PairedEvidence(model="m", edges=EDGES, max_field_values=3)
    values: list[Any] = ["a", "b", None, "c", "d", "a", "e", "d", "c", "x" * 70, "x" * 64]
    observe(evidence, [(150_000.0, 150_000.0)] * len(values), field="f", values=values)
    # A second field has its own bound.
    observe(evidence, [(150_000.0, 150_000.0)] * 4, field="g", values=[1, 2, 3, 4])
    text = exported(evidence)

    def counts(field: str) -> dict[str, float]:
        return {
            s["slice"]: v
            for s, v in zip(
                label_sets(text, P + "records_total"),
                samples(text, P + "records_total"),
                strict=True,
            )
            if s["slice_by"] == field
        }

    # a, b, c came first; d, e and the long strings (one label once cut) pool under __other__;
    # __missing__ never takes a place.
    assert counts("f") == {"a": 2, "b": 1, "c": 2, "__missing__": 1, "__other__": 5}
    assert counts("g") == {"1": 1, "2": 1, "3": 1, "__other__": 1}


def test_values_must_match_the_records() -> None:
    evidence = PairedEvidence(model="m", edges=EDGES, max_field_values=3)
    with pytest.raises(ValueError, match="1 values of 'f' for 2 records"):
        observe(evidence, [(1.0, 1.0), (2.0, 2.0)], field="f", values=["a"])
    with pytest.raises(ValueError, match="strictly increasing"):
        PairedEvidence(model="m", edges=(2.0, 1.0), max_field_values=3)


def test_concurrent_observers_lose_no_count() -> None:
    evidence = PairedEvidence(model="m", edges=EDGES, max_field_values=50)
    pairs = [(100_000.0 * (1 + i % 5), 100_000.0 * (1 + i % 5) * 1.25) for i in range(200)]

    def work(worker: int) -> None:
        for _ in range(25):
            observe(evidence, pairs, field="w", values=[str(worker)] * len(pairs))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    text = exported(evidence)
    total = 4 * 25 * len(pairs)
    for slice_by in ("all", "prediction", "w"):
        assert metric(text, P + "records_total", slice_by=slice_by) == total
        assert metric(text, P + "rel_diff_count_total", slice_by=slice_by) == total
    assert metric(text, P + "rel_diff_positive_total", slice_by="all") == pytest.approx(
        0.25 * total, rel=1e-12
    )
    assert metric(text, P + "rel_diff_negative_total", slice_by="all") == 0
