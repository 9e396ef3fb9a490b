"""Routing config reloads (file source) while requests flow: no live request is lost."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from tests.support.processes import ServiceProcess
from tests.support.router import label_sets, metric, routing_config, wait_for

pytestmark = pytest.mark.integration

CLIENTS = 4
# Requests completed between two config switches (so every switch lands mid-traffic).
REQUESTS_PER_PHASE = 40


class Load:
    """CLIENTS threads sending predictions until stopped; every answer is kept."""

    def __init__(self, url: str, records: list[dict[str, object]]) -> None:
        self.url = url
        self.records = records
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.answers: list[tuple[str, int, int, bytes]] = []  # rid, record, status, body
        self.errors: list[str] = []
        self.threads = [threading.Thread(target=self._run, args=(n,)) for n in range(CLIENTS)]

    def _run(self, n: int) -> None:
        i = 0
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self.stop.is_set():
                index = (n * 1000 + i) % len(self.records)
                rid = f"load-{n}-{i}"
                try:
                    response = client.post(
                        "/v1/predictions",
                        json={"records": [self.records[index]]},
                        headers={"X-Request-ID": rid},
                    )
                except httpx.HTTPError as exc:
                    with self.lock:
                        self.errors.append(f"{rid}: {exc!r}")
                else:
                    with self.lock:
                        self.answers.append((rid, index, response.status_code, response.content))
                i += 1

    def done(self) -> int:
        with self.lock:
            return len(self.answers) + len(self.errors)

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)


def test_switching_candidate_live_and_percent_under_load_loses_nothing(
    router_factory: Any,
    live_api: ServiceProcess,
    live_api_twin: ServiceProcess,
    candidate_api: ServiceProcess,
    faulty: ServiceProcess,
    records: list[dict[str, object]],
) -> None:
    router = router_factory(routing_config(live_api, (candidate_api.url, "2.0.0")))
    phases = [
        routing_config(live_api, (f"{faulty.url}/ok", "3.0.0-fake"), mirror_percent=50),
        routing_config(live_api_twin, (f"{faulty.url}/ok", "3.0.0-fake"), mirror_percent=50),
        routing_config(live_api_twin, (f"{faulty.url}/random", "4.0.0-random")),
        routing_config(live_api, (f"{faulty.url}/random", "4.0.0-random"), mirror_percent=0),
        routing_config(live_api, (candidate_api.url, "2.0.1"), mirror_percent=100),
    ]
    with Load(router.url, records) as load:
        for config in phases:
            target = load.done() + REQUESTS_PER_PHASE
            wait_for(lambda t=target: load.done() >= t, timeout=60, what="traffic")  # type: ignore[misc]
            router.apply(config)
        # A broken document mid-traffic is rejected; the last good config stays in force.
        router.config_path.write_text(
            '{"live": {"url": "http://127.0.0.1:1"}, "mirror_percent": 500}'
        )
        wait_for(
            lambda: router.metric("understudy_router_config_reloads_total", outcome="rejected"),
            what="the broken config to be rejected",
        )
        target = load.done() + REQUESTS_PER_PHASE
        wait_for(lambda: load.done() >= target, timeout=60, what="traffic after the last switch")

    assert load.errors == []
    assert len(load.answers) >= REQUESTS_PER_PHASE * (len(phases) + 1)
    assert {status for _, _, status, _ in load.answers} == {200}
    with httpx.Client(base_url=live_api.url, timeout=10) as direct:
        for rid, index, _, body in load.answers:
            expected = direct.post(
                "/v1/predictions",
                json={"records": [records[index]]},
                headers={"X-Request-ID": rid},
            )
            assert body == expected.content, rid

    def final_candidate_compared() -> str | None:
        text = router.metrics()
        return (
            text
            if metric(text, "understudy_router_mirror_total", candidate_version="2.0.1")
            else None
        )

    text = wait_for(final_candidate_compared, what="comparisons for the final candidate")
    [info] = label_sets(text, "understudy_router_config_info")
    assert info["candidate_version"] == "2.0.1"
    assert info["live_url"] == live_api.url
    assert info["mirror_percent"] == "100"
    ks_labels = label_sets(text, "understudy_router_prediction_ks_statistic")
    assert {labels["candidate_version"] for labels in ks_labels} <= {"2.0.1"}
    # Earlier candidates were mirrored while they were in force.
    assert metric(text, "understudy_router_mirror_total", candidate_version="3.0.0-fake") > 0
    assert metric(text, "understudy_router_mirror_total", candidate_version="4.0.0-random") > 0
    assert (
        metric(text, "understudy_router_config_reloads_total", outcome="applied") == len(phases) + 1
    )
    assert "Traceback" not in router.process.logs()
