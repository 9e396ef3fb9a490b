"""Property-based: requests generated from the service's own OpenAPI schema (schemathesis
strategies driven by hypothesis), valid and invalid, never get a 5xx, and every answer
conforms to the documented response schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode

from understudy_common.metrics import new_registry
from understudy_model_api.app import create_app
from understudy_model_api.settings import Settings

OPERATIONS = [
    ("POST", "/v1/predictions"),
    ("GET", "/v1/model"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
]


@pytest.fixture(scope="module")
def api_schema(artifacts: Any) -> Iterator[Any]:
    # Batching off: schemathesis calls the app from its own event loop, and the
    # batcher's worker lives on the lifespan's loop (batching is covered elsewhere).
    app = create_app(Settings(artifact_dir=artifacts.v1, batching=False), registry=new_registry())
    with TestClient(app):  # runs the lifespan: the model loads, the schema lists its fields
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


def test_the_schema_lists_every_route(api_schema: Any) -> None:
    found = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert found == set(OPERATIONS)


# Negative cases exist only where there is input to break: the prediction body.
CASES = [(m, p, GenerationMode.POSITIVE) for m, p in OPERATIONS] + [
    ("POST", "/v1/predictions", GenerationMode.NEGATIVE)
]


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_generated_requests_never_get_a_5xx(
    api_schema: Any, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]
    seen: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=40 if path == "/v1/predictions" else 5,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        response = case.call()
        seen.append(response.status_code)
        assert response.status_code < 500, response.text[:500]
        if mode is GenerationMode.POSITIVE and path == "/v1/predictions":
            assert response.status_code == 200, response.text[:500]
        case.validate_response(response)

    check()
    assert seen
