"""``--rate max`` of the local runs (cli/src/understudy_cli/demo/traffic.py): a real router
with a small mirror queue, a real model-api as live, and a candidate ten times slower than
the queue lets through at full speed — the fault-injecting upstream's ``slow-0.05`` (a test
double: the real model-api cannot be made slow per request).

The same driver at a fixed high rate drops mirrors (the control that shows the setting
bites); paced by the router's mirror queue it drops none and is held to the candidate's
pace.
"""

from __future__ import annotations

import time

import pytest

from tests.support.processes import ServiceProcess
from tests.support.router import label_sets, metric, routing_config
from understudy_cli.demo.traffic import MAX_RATE, TrafficDriver

pytestmark = pytest.mark.integration

MIRROR = "understudy_router_mirror_total"
SECONDS = 3.0
WORKERS, QUEUE = 2, 4
DELAY_S = 0.05  # the candidate: at most WORKERS / DELAY_S = 40 mirrors a second


def _drive(router, records, rate: float) -> TrafficDriver:
    driver = TrafficDriver(url=router.url, records=records, rate=rate, concurrency=8)
    driver.start()
    time.sleep(SECONDS)
    driver.stop()
    return driver


def _outcomes(router) -> dict[str, float]:
    text = router.metrics()
    return {
        s["outcome"]: metric(text, MIRROR, outcome=s["outcome"]) for s in label_sets(text, MIRROR)
    }


@pytest.mark.parametrize("rate", [400.0, MAX_RATE], ids=["fixed-400", "max"])
def test_max_rate_drops_no_mirror_where_a_fixed_rate_does(
    router_factory, live_api: ServiceProcess, faulty: ServiceProcess, records, rate
) -> None:
    config = routing_config(live_api, (f"{faulty.url}/slow-{DELAY_S}", "2.0.0"))
    router = router_factory(config, mirror_workers=str(WORKERS), mirror_queue_size=str(QUEUE))
    driver = _drive(router, records, rate)
    assert driver.stats.failed == 0 and driver.stats.ok > 20
    deadline = time.monotonic() + 10  # the queue drains after the driver stops
    while sum(_outcomes(router).values()) < driver.stats.ok:
        assert time.monotonic() < deadline, _outcomes(router)
        time.sleep(0.1)
    outcomes = _outcomes(router)
    print(f"rate {rate}: {driver.stats.ok} answered in {SECONDS}s, mirror {outcomes}")
    if rate == MAX_RATE:
        assert outcomes.get("dropped", 0) == 0, outcomes
        assert driver.paced_waits > 0  # it did wait for the candidate
        # held to about the candidate's pace (40/s), not the live path's hundreds
        assert driver.stats.ok < 2 * WORKERS / DELAY_S * SECONDS, driver.stats.ok
    else:
        assert outcomes.get("dropped", 0) > 0, outcomes  # the control: the setting bites
