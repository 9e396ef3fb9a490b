"""bench/asgi_ceiling.py: the fixed answer, served through model-api's own entry point
with the very uvicorn options model-api runs with."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

import pytest

from bench import asgi_ceiling
from understudy_model_api import __main__ as entry


def test_the_ceiling_reads_the_whole_body_and_gives_its_fixed_answer() -> None:
    chunks = [
        {"type": "http.request", "body": b'{"records": [', "more_body": True},
        {"type": "http.request", "body": b"{}]}", "more_body": False},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return chunks.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    asyncio.run(asgi_ceiling.app({"type": "http"}, receive, send))
    assert chunks == []  # every chunk read
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == asgi_ceiling.ANSWER
    headers = dict(sent[0]["headers"])
    assert headers[b"content-length"] == str(len(asgi_ceiling.ANSWER)).encode()


def test_the_ceiling_runs_under_model_apis_uvicorn_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(entry.uvicorn, "run", lambda app, **kw: runs.append((app, kw)))
    monkeypatch.setattr(entry, "configure_logging", lambda **kw: None)
    monkeypatch.setenv("UNDERSTUDY_MODEL_API_PORT", "18123")
    real_factory = entry.create_app
    monkeypatch.setattr(entry, "create_app", lambda settings, **options: "model-api app")
    assert entry.main() == 0
    monkeypatch.setattr(entry, "create_app", real_factory)  # what the ceiling replaces
    assert asgi_ceiling.main() == 0
    (model_api_app, model_api_options), (ceiling_app, ceiling_options) = runs
    assert model_api_app == "model-api app"
    assert ceiling_app is asgi_ceiling.app
    assert ceiling_options == model_api_options
    assert ceiling_options["port"] == 18123
