"""bench/router_parts.py: every router variant answers real requests through the real
model-apis, every mirror it offers is finished inside its round, and the table takes
each "per mirror" against the matching mirroring-off row."""

from __future__ import annotations

import gc
import io
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
import uvloop

from tests.support.artifacts import Artifacts
from tests.support.processes import ServiceProcess, start_model_api
from understudy_common.logging import configure_logging
from understudy_model.data import Split


@pytest.fixture
def parts(bench_script: Callable[[str], ModuleType]) -> ModuleType:
    return bench_script("router_parts")


@pytest.fixture(scope="module")
def upstreams(artifacts: Artifacts) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    with start_model_api(artifacts.v1) as live, start_model_api(artifacts.v2) as candidate:
        yield live, candidate


@pytest.fixture
def body(ames_split: Split) -> bytes:
    from understudy_model.data import holdout_records

    return json.dumps({"records": holdout_records(ames_split, limit=1)}).encode()


def test_each_variant_is_measured_with_its_mirrors_finished(
    parts: ModuleType,
    upstreams: tuple[ServiceProcess, ServiceProcess],
    body: bytes,
    tmp_path: Path,
) -> None:
    live, candidate = upstreams
    log = io.StringIO()
    configure_logging(service="shadow-router", stream=log)
    try:
        cpu_us, child_us = uvloop.run(
            parts.measure(
                live.url, candidate.url, body, store_dir=tmp_path, rounds=2, requests=10, warmup=3
            )
        )
    finally:
        logging.getLogger().handlers.clear()
    assert list(cpu_us) == [v.name for v in parts.VARIANTS]
    assert all(len(v) == 2 and min(v) > 0 for v in cpu_us.values())
    # Only the script's main() freezes start-up objects; a caller's collector is left alone
    # (a frozen test process broke tests/model_api/test_routes.py's freeze check).
    assert gc.get_freeze_count() == 0
    # Every mirror was judged and logged before its round ended (a router's workers are
    # cancelled when the run stops): the in-loop mirrored variants x (3 warm-up + 2 x 10);
    # the mirror process writes its lines to its own stdout.
    # Every variant with a mirror process (the default) has its CPU measured too.
    in_process = [v.name for v in parts.VARIANTS if v.settings.get("mirror_process", True)]
    assert "100% mirrored (as shipped: mirror process)" in in_process
    assert list(child_us) == in_process
    assert all(len(v) == 2 and min(v) >= 0 for v in child_us.values())  # clock ticks: 0 ok
    datasets = [json.loads(line).get("event.dataset") for line in log.getvalue().splitlines()]
    in_loop = [v for v in parts.VARIANTS if v.mirror_percent and v.name not in in_process]
    assert datasets.count("shadow-router.comparison") == len(in_loop) * 23
    text, rows = parts.table(cpu_us, child_us)
    assert text.count("\n") == len(cpu_us) + 1  # header, rule, a line per variant
    by_name = {r["variant"]: r for r in rows}
    for mirrored, off in parts.BASELINE.items():
        expected = by_name[mirrored]["median_us"] - by_name[off]["median_us"]
        assert by_name[mirrored]["per_mirror_us"] == pytest.approx(expected)
    assert by_name[parts.VARIANTS[0].name]["per_mirror_us"] is None


def test_a_variant_that_stops_answering_200_stops_the_run(
    parts: ModuleType, tmp_path: Path
) -> None:
    """No live model reachable: the router answers 502 and the run stops on it."""
    dead = "http://127.0.0.1:9"
    with pytest.raises(RuntimeError, match="HTTP 502"):
        uvloop.run(
            parts.measure(dead, dead, b"{}", store_dir=tmp_path, rounds=1, requests=1, warmup=1)
        )
