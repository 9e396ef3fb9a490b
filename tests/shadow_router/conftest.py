"""Fixtures of the router tests: real model-api processes, the faulty upstream, routers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.artifacts import Artifacts
from tests.support.processes import ServiceProcess, start_model_api, start_service
from tests.support.router import Router, start_router
from understudy_model.data import Split, holdout_records


@pytest.fixture(autouse=True)
def _own_feedback_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Routers built in process get a feedback store of their own, not the machine-wide
    default file (routers started as processes get theirs from start_router)."""
    monkeypatch.setenv(
        "UNDERSTUDY_ROUTER_FEEDBACK_STORE", f"sqlite:///{tmp_path / 'feedback-inproc.sqlite3'}"
    )


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
    """The fault-injecting fake upstream (tests/support/faulty_upstream.py)."""
    with start_service(
        "tests.support.faulty_upstream", env={}, port_env="FAULTY_UPSTREAM_PORT"
    ) as service:
        yield service


@pytest.fixture(scope="session")
def records(ames_split: Split) -> list[dict[str, object]]:
    """Realistic request records from the holdout set."""
    return holdout_records(ames_split, limit=300)


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
