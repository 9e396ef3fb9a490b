"""model-api apps in process (lifespan run) on their own registries, with their log lines."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from understudy_common.logging import configure_logging
from understudy_common.metrics import new_registry
from understudy_model_api.app import create_app
from understudy_model_api.settings import Settings


class Service:
    """A model-api app in process (lifespan run), its registry and its log lines."""

    def __init__(self, client: TestClient, registry: CollectorRegistry, log: io.StringIO):
        self.client = client
        self.registry = registry
        self._log = log

    def post(self, body: Any, **kwargs: Any) -> Any:
        return self.client.post("/v1/predictions", json=body, **kwargs)

    def samples(self, name: str) -> list[tuple[dict[str, str], float]]:
        """(labels, value) of every sample called ``name`` in /metrics."""
        text = self.client.get("/metrics").text
        return [
            (dict(s.labels), s.value)
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == name
        ]

    def value(self, name: str, **labels: str) -> float:
        return sum(v for lbl, v in self.samples(name) if labels.items() <= lbl.items())

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self._log.getvalue().splitlines() if line]

    def request_events(self) -> list[dict[str, Any]]:
        return [e for e in self.events() if e.get("event.dataset") == "model-api.request"]


@contextmanager
def running(artifact_dir: Path, **overrides: Any) -> Iterator[Service]:
    registry = new_registry()
    log = io.StringIO()
    configure_logging(service="model-api", stream=log)
    settings = Settings(artifact_dir=artifact_dir, **overrides)
    try:
        with TestClient(create_app(settings, registry=registry)) as client:
            yield Service(client, registry, log)
    finally:
        logging.getLogger().handlers.clear()
