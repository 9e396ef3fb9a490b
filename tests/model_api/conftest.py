"""In-process fixtures for the model-api tests: apps on their own registries."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.artifacts import Artifacts
from tests.support.model_api import Service, running
from understudy_model.data import Split, holdout_records


@pytest.fixture(scope="session")
def records(ames_split: Split) -> list[dict[str, Any]]:
    """Twenty real holdout houses as a client sends them."""
    return holdout_records(ames_split, limit=20)


@pytest.fixture
def service_factory(artifacts: Artifacts) -> Callable[..., Any]:
    """``with service_factory(version="v1", **settings) as svc: ...``"""

    def make(version: str = "v1", **overrides: Any) -> Any:
        return running(getattr(artifacts, version), **overrides)

    return make


@pytest.fixture
def service(service_factory: Callable[..., Any]) -> Iterator[Service]:
    with service_factory("v1") as svc:
        yield svc
