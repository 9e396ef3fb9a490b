"""The benchmark scripts imported as modules, the way they import each other."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def bench_script(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], ModuleType]:
    """``bench_script("awake")``: bench/awake.py as a module. bench/ goes on sys.path for
    the test only, since the scripts import their siblings by name."""
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module
