"""bench/asgi_bare.py: the least work a correct answer needs - model-api's parse,
validation, fast prediction and rendering, nothing else - under model-api's uvicorn."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, MutableMapping
from types import ModuleType
from typing import Any

import pytest

from understudy_model.artifact import load_artifact
from understudy_model.data import holdout_records, load_ames, split_holdout
from understudy_model.fast import compile_fast_predictor
from understudy_model.validation import validate_records
from understudy_model_api import __main__ as entry
from understudy_model_api.settings import Settings


def _call(app: Any, method: str, body: bytes) -> tuple[int, dict[str, Any]]:
    chunks = [
        {"type": "http.request", "body": body[:5], "more_body": True},
        {"type": "http.request", "body": body[5:], "more_body": False},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return chunks.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    asyncio.run(app({"type": "http", "method": method}, receive, send))
    assert chunks == []  # the whole body read
    headers = dict(sent[0]["headers"])
    assert headers[b"content-length"] == str(len(sent[1]["body"])).encode()
    return sent[0]["status"], json.loads(sent[1]["body"])


@pytest.fixture
def asgi_bare(bench_script: Callable[[str], ModuleType]) -> ModuleType:
    return bench_script("asgi_bare")


@pytest.fixture
def bare(asgi_bare: ModuleType, artifacts: Any) -> Any:
    return asgi_bare.bare_app(Settings(artifact_dir=artifacts.v2, max_records=10))


def test_the_bare_app_answers_model_apis_predictions(bare: Any, artifacts: Any) -> None:
    model = load_artifact(artifacts.v2)
    records = holdout_records(split_holdout(load_ames()), limit=3)
    status, answer = _call(bare, "POST", json.dumps({"records": records}).encode())
    assert status == 200
    expected = compile_fast_predictor(model).predict_rows(
        validate_records(records, model.schema).rows
    )
    assert answer["predictions"] == expected.tolist()
    assert answer["model"] == {"name": model.name, "version": model.version}


def test_the_bare_app_refuses_what_model_api_refuses(bare: Any) -> None:
    status, answer = _call(bare, "POST", b'{"records": [')
    assert status == 400 and answer["error"] == "malformed_json"
    status, answer = _call(bare, "POST", json.dumps({"records": [{"lot_area": "x"}]}).encode())
    assert status == 422 and answer["error"] == "validation_failed" and answer["errors"]
    status, answer = _call(bare, "POST", json.dumps({"records": [{}] * 11}).encode())
    assert status in (400, 413, 422) and answer["error"] != "validation_failed"
    status, answer = _call(bare, "GET", b"")
    assert status == 200


def test_the_bare_app_runs_under_model_apis_uvicorn_options(
    monkeypatch: pytest.MonkeyPatch, artifacts: Any, bench_script: Callable[[str], ModuleType]
) -> None:
    asgi_bare, asgi_ceiling = bench_script("asgi_bare"), bench_script("asgi_ceiling")
    runs: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(entry.uvicorn, "run", lambda app, **kw: runs.append((app, kw)))
    monkeypatch.setattr(entry, "configure_logging", lambda **kw: None)
    monkeypatch.setenv("UNDERSTUDY_MODEL_API_ARTIFACT_DIR", str(artifacts.v2))
    real_factory = entry.create_app
    monkeypatch.setattr(entry, "create_app", lambda settings, **options: "model-api app")
    assert entry.main() == 0
    monkeypatch.setattr(entry, "create_app", real_factory)
    assert asgi_bare.main() == 0
    monkeypatch.setattr(entry, "create_app", real_factory)
    assert asgi_ceiling.main() == 0
    (_, model_api_options), (bare_app, bare_options), (_, ceiling_options) = runs
    assert callable(bare_app)
    assert bare_options == model_api_options == ceiling_options
