"""bench/model_api_parts.py: every variant answers real requests of the real app, and a
part patched out for a measurement is back afterwards."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType

import pytest
import uvloop

from tests.support.artifacts import Artifacts
from understudy_model.data import Split
from understudy_model_api import predictions
from understudy_model_api.runtime import Runtime


@pytest.fixture
def parts(bench_script: Callable[[str], ModuleType]) -> ModuleType:
    return bench_script("model_api_parts")


def test_each_variant_is_measured_and_the_patches_are_undone(
    parts: ModuleType, artifacts: Artifacts, ames_records_body: bytes
) -> None:
    log_event, predict = predictions.log_event, Runtime.predict
    cpu_us = uvloop.run(
        parts.measure(artifacts.v2, ames_records_body, rounds=2, requests=20, warmup=5)
    )
    assert list(cpu_us) == [parts.CEILING, *(v.name for v in parts.VARIANTS)]
    assert all(len(v) == 2 and min(v) > 0 for v in cpu_us.values())
    assert (predictions.log_event, Runtime.predict) == (log_event, predict)
    text, rows = parts.table(cpu_us)
    assert text.count("\n") == len(cpu_us) + 1  # header, rule, a line per variant
    shipped = next(r for r in rows if r["variant"] == parts.SHIPPED)
    assert shipped["vs_shipped_us"] == 0


def test_a_variant_that_stops_answering_200_stops_the_run(
    parts: ModuleType, artifacts: Artifacts
) -> None:
    with pytest.raises(RuntimeError, match="HTTP 422"):
        uvloop.run(
            parts.measure(artifacts.v2, b'{"records": [{}]}', rounds=1, requests=1, warmup=1)
        )


@pytest.fixture
def ames_records_body(ames_split: Split) -> bytes:
    from understudy_model.data import holdout_records

    return json.dumps({"records": holdout_records(ames_split, limit=1)}).encode()
