"""The router in tests: metrics parsing, polling, config files, RSS, and router processes."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import ServiceProcess, start_service

T = TypeVar("T")


def samples(text: str, name: str, **labels: str) -> list[float]:
    """Values of every sample called ``name`` whose labels include ``labels``."""
    out = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                out.append(sample.value)
    return out


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of the matching samples (0 when there are none)."""
    return sum(samples(text, name, **labels))


def sum_by(
    text: str, name: str, by: tuple[str, ...], **labels: str
) -> dict[tuple[str, ...], float]:
    """PromQL's ``sum by (<by>) (name{labels})`` over one scrape (absent labels: "")."""
    out: dict[tuple[str, ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                key = tuple(sample.labels.get(k, "") for k in by)
                out[key] = out.get(key, 0.0) + sample.value
    return out


def label_sets(text: str, name: str) -> list[dict[str, str]]:
    return [
        dict(sample.labels)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def wait_for(probe: Callable[[], T | None], *, timeout: float = 10.0, what: str = "condition") -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.02)  # polling interval


def write_config(path: Path, config: dict[str, Any]) -> None:
    """Replace the routing config file atomically, as the docs ask writers to."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(config))
    os.replace(tmp, path)


def routing(client: httpx.Client, url: str) -> dict[str, Any]:
    response = client.get(f"{url}/v1/routing")
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def apply_config(
    client: httpx.Client, router_url: str, path: Path, config: dict[str, Any]
) -> dict[str, Any]:
    """Write ``config`` to the router's file and wait until the router has applied it."""
    before = routing(client, router_url)["generation"]
    write_config(path, config)

    def applied() -> dict[str, Any] | None:
        view = routing(client, router_url)
        return view if view["generation"] > before else None

    return wait_for(applied, timeout=10, what=f"router to apply {config}")


def rss_kib(pid: int) -> int:
    """Resident set size of a process (VmRSS in /proc/<pid>/status), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (a port that was just free)."""
    from tests.support.processes import free_port

    return f"http://127.0.0.1:{free_port()}"


@dataclass
class Router:
    """A running router process plus the routing config file it watches."""

    process: ServiceProcess
    config_path: Path
    client: httpx.Client

    @property
    def url(self) -> str:
        return self.process.url

    def apply(self, config: dict[str, Any]) -> dict[str, Any]:
        return apply_config(self.client, self.url, self.config_path, config)

    def metrics(self) -> str:
        return self.client.get(f"{self.url}/metrics").text

    def metric(self, name: str, **labels: str) -> float:
        return metric(self.metrics(), name, **labels)

    def feedback(self, labels: list[dict[str, object]]) -> httpx.Response:
        return self.client.post(f"{self.url}/v1/feedback", json={"labels": labels})

    def predict(self, records: list[dict[str, object]], request_id: str) -> httpx.Response:
        return self.client.post(
            f"{self.url}/v1/predictions",
            json={"records": records},
            headers={"X-Request-ID": request_id},
        )


def start_router(
    tmp_path: Path, config: dict[str, Any], **settings: str
) -> tuple[ServiceProcess, Path]:
    """Start ``python -m understudy_router`` watching a config file that holds ``config``."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "router.json"
    write_config(path, config)
    env = {
        "UNDERSTUDY_ROUTER_CONFIG_FILE": str(path),
        "UNDERSTUDY_ROUTER_CONFIG_POLL_SECONDS": "0.1",
        # Each test router its own feedback store (the default is one file per machine).
        "UNDERSTUDY_ROUTER_FEEDBACK_STORE": f"sqlite:///{tmp_path / 'feedback.sqlite3'}",
        **{f"UNDERSTUDY_ROUTER_{k.upper()}": v for k, v in settings.items()},
    }
    return start_service("understudy_router", env=env), path


def routing_config(
    live: ServiceProcess | str | None,
    candidate: tuple[str, str] | None,
    *,
    mirror_percent: float = 100,
    live_seconds: float = 2.0,
    candidate_seconds: float = 2.0,
    slice_field: str | None = None,
) -> dict[str, Any]:
    """A routing config document; ``candidate`` is (url, version)."""
    live_url = live.url if isinstance(live, ServiceProcess) else live
    slicing = {} if slice_field is None else {"slice_field": slice_field}
    return {
        **slicing,
        "live": None if live_url is None else {"url": live_url, "version": "1.0.0"},
        "candidate": None if candidate is None else {"url": candidate[0], "version": candidate[1]},
        "mirror_percent": mirror_percent,
        "tolerance": {"relative": 0.10, "absolute": 10000},
        "timeouts": {"live_seconds": live_seconds, "candidate_seconds": candidate_seconds},
    }
