"""bench/model_api_inside.py: each part is timed inside real requests of the real app and
in a tight loop, and every wrapper is gone afterwards."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType

import pytest
import uvloop

from tests.support.artifacts import Artifacts
from understudy_model.data import Split


@pytest.fixture
def inside(bench_script: Callable[[str], ModuleType]) -> ModuleType:
    return bench_script("model_api_inside")


def test_every_part_of_a_request_is_timed_and_unwrapped_afterwards(
    inside: ModuleType, artifacts: Artifacts, ames_split: Split
) -> None:
    from understudy_model.data import holdout_records

    body = json.dumps({"records": holdout_records(ames_split, limit=1)}).encode()
    before = [getattr(p.owner, p.attribute) for p in inside.parts()]
    result = uvloop.run(inside.measure(artifacts.v2, body, requests=20, warmup=5, loop_repeats=3))
    assert [getattr(p.owner, p.attribute) for p in inside.parts()] == before
    timed = {row["part"]: row for row in result["parts"]}
    # v2 is served by the fast path: every part ran once per request. Under pytest the log
    # event takes logging's standard path (pytest's own handlers are on the root logger),
    # so the line's fields run only in the script, and its write only where an earlier test
    # in this worker left a JSON handler on the root logger.
    line_parts = {"log line: fields + JSON", "log line: write"}
    assert set(timed) - line_parts == {p.label for p in inside.parts()} - line_parts
    assert {row["calls_per_request"] for row in timed.values()} == {1}, timed
    assert all(row["inside_us"] > 0 for row in timed.values())
    awaited = {p.label for p in inside.parts() if p.awaited}
    assert all((row["tight_loop_us"] is None) == (name in awaited) for name, row in timed.items())
    assert result["whole_request_us"] > timed["validation"]["inside_us"]
    assert inside.table(result).count("\n") == len(timed) + 2  # header, rule, whole request


def test_a_body_the_app_rejects_stops_the_run(inside: ModuleType, artifacts: Artifacts) -> None:
    with pytest.raises(RuntimeError, match="HTTP 422"):
        uvloop.run(
            inside.measure(artifacts.v2, b'{"records": [{}]}', requests=1, warmup=0, loop_repeats=1)
        )
