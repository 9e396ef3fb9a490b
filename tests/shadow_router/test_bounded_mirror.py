"""A candidate that never answers cannot make the router grow: bounded workers and queue."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.support.processes import ServiceProcess
from tests.support.router import metric, routing, routing_config, rss_kib

pytestmark = pytest.mark.integration

WORKERS = 4
QUEUE = 16
WARMUP = 100
BURST = 500
CONCURRENCY = 32
# Generous: the router's RSS may grow this much at most over the burst.
RSS_GROWTH_LIMIT_KIB = 40 * 1024


async def _burst(
    router_url: str, records: list[dict[str, object]], count: int, tag: str
) -> tuple[list[int], list[tuple[float, float]]]:
    """Send ``count`` requests, CONCURRENCY at a time, scraping the gauges meanwhile."""
    statuses: list[int] = []
    gauges: list[tuple[float, float]] = []
    limits = httpx.Limits(max_connections=CONCURRENCY + 1)
    async with httpx.AsyncClient(base_url=router_url, timeout=30, limits=limits) as client:
        todo = iter(range(count))

        async def worker() -> None:
            for i in todo:
                body = {"records": [records[i % len(records)]]}
                response = await client.post(
                    "/v1/predictions", json=body, headers={"X-Request-ID": f"{tag}-{i}"}
                )
                statuses.append(response.status_code)

        async def scraper() -> None:
            while len(statuses) < count:
                text = (await client.get("/metrics")).text
                gauges.append(
                    (
                        metric(text, "understudy_router_mirror_inflight"),
                        metric(text, "understudy_router_mirror_queue_depth"),
                    )
                )
                await asyncio.sleep(0.01)  # scrape interval while the burst runs

        await asyncio.gather(scraper(), *(worker() for _ in range(CONCURRENCY)))
    return statuses, gauges


@pytest.mark.parametrize("mirror_process", ["false", "true"], ids=["in-loop", "in-process"])
def test_hung_candidate_bounded_inflight_queue_and_memory(
    mirror_process: str,
    router_factory: Any,
    live_api: ServiceProcess,
    faulty: ServiceProcess,
    records: list[dict[str, object]],
) -> None:
    router = router_factory(
        routing_config(live_api, (f"{faulty.url}/hang", "hung"), candidate_seconds=120),
        mirror_workers=str(WORKERS),
        mirror_queue_size=str(QUEUE),
        mirror_process=mirror_process,
    )
    # The router's memory, and its mirror process's when there is one.
    pids = [router.process.pid, routing(router.client, router.url)["mirror"]["process"]]
    pids = [pid for pid in pids if pid is not None]
    assert len(pids) == (2 if mirror_process == "true" else 1)
    statuses, _ = asyncio.run(_burst(router.url, records, WARMUP, "warm"))
    assert statuses == [200] * WARMUP
    rss_before = sum(rss_kib(pid) for pid in pids)

    statuses, gauges = asyncio.run(_burst(router.url, records, BURST, "burst"))
    rss_after = sum(rss_kib(pid) for pid in pids)

    assert statuses == [200] * BURST
    assert gauges, "the scraper never ran"
    assert max(g[0] for g in gauges) <= WORKERS
    assert max(g[1] for g in gauges) <= QUEUE
    text = router.metrics()
    assert metric(text, "understudy_router_mirror_inflight") == WORKERS
    assert metric(text, "understudy_router_mirror_queue_depth") == QUEUE
    # Nothing ever finished, so everything past the first WORKERS + QUEUE was dropped.
    assert metric(text, "understudy_router_mirror_total", outcome="dropped") == (
        WARMUP + BURST - WORKERS - QUEUE
    )
    assert metric(text, "understudy_router_requests_total", outcome="live_ok") == WARMUP + BURST
    assert rss_after - rss_before < RSS_GROWTH_LIMIT_KIB, (rss_before, rss_after)
