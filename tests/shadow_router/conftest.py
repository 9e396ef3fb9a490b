"""Fixtures of the router tests: real model-api processes, the faulty upstream, routers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Artifacts
from tests.shadow_router.helpers import apply_config, metric, write_config
from tests.support.processes import ServiceProcess, start_model_api, start_service
from understudy_model.data import Split, holdout_records


@pytest.fixture(scope="session")
def live_api(artifacts: Artifacts) -> Iterator[ServiceProcess]:
    """model-api serving v1 (1.0.0), the live model."""
    with start_model_api(artifacts.v1) as service:
        yield service


@pytest.fixture(scope="session")
def live_api_twin(artifacts: Artifacts) -> Iterator[ServiceProcess]:
    """A second model-api serving v1: a live URL to switch to (blue/green)."""
    with start_model_api(artifacts.v1) as service:
        yield service


@pytest.fixture(scope="session")
def candidate_api(artifacts: Artifacts) -> Iterator[ServiceProcess]:
    """model-api serving v2 (2.0.0), the candidate."""
    with start_model_api(artifacts.v2) as service:
        yield service


@pytest.fixture(scope="session")
def faulty() -> Iterator[ServiceProcess]:
    """The fault-injecting fake upstream (tests/shadow_router/faulty_upstream.py)."""
    with start_service(
        "tests.shadow_router.faulty_upstream", env={}, port_env="FAULTY_UPSTREAM_PORT"
    ) as service:
        yield service


@pytest.fixture(scope="session")
def records(ames_split: Split) -> list[dict[str, object]]:
    """Realistic request records from the holdout set."""
    return holdout_records(ames_split, limit=300)


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
        **{f"UNDERSTUDY_ROUTER_{k.upper()}": v for k, v in settings.items()},
    }
    return start_service("understudy_router", env=env), path


@pytest.fixture
def router_factory(tmp_path: Path) -> Iterator[Any]:
    """Call with (config, **settings) to get a started :class:`Router`; stopped at teardown."""
    started: list[Router] = []

    def make(config: dict[str, Any], **settings: str) -> Router:
        process, path = start_router(tmp_path / f"r{len(started)}", config, **settings)
        router = Router(process=process, config_path=path, client=httpx.Client(timeout=30))
        started.append(router)
        return router

    yield make
    for router in started:
        router.client.close()
        router.process.stop()


def routing_config(
    live: ServiceProcess | str | None,
    candidate: tuple[str, str] | None,
    *,
    mirror_percent: float = 100,
    live_seconds: float = 2.0,
    candidate_seconds: float = 2.0,
) -> dict[str, Any]:
    """A routing config document; ``candidate`` is (url, version)."""
    live_url = live.url if isinstance(live, ServiceProcess) else live
    return {
        "live": None if live_url is None else {"url": live_url, "version": "1.0.0"},
        "candidate": None if candidate is None else {"url": candidate[0], "version": candidate[1]},
        "mirror_percent": mirror_percent,
        "tolerance": {"relative": 0.10, "absolute": 10000},
        "timeouts": {"live_seconds": live_seconds, "candidate_seconds": candidate_seconds},
    }
