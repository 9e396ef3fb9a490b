"""The store backends under one fixture: every contract test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.postgres import PostgresServer
from understudy_router.feedback.store import PredictionStore, open_store


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty store of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'feedback.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.new_database()


@pytest.fixture
def open_stores(store_url: str) -> Iterator[Callable[[], PredictionStore]]:
    """Opens stores on the same URL (as several routers do); all closed at teardown."""
    opened: list[PredictionStore] = []

    def make() -> PredictionStore:
        store = open_store(store_url)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(open_stores: Callable[[], PredictionStore]) -> PredictionStore:
    return open_stores()
