"""A pytest plugin for the coverage run: each test's lines are recorded under its node id.

Loaded with `-p tools.mutation.contexts` under `coverage run`; it also writes each test's
duration (setup + call + teardown) to the JSON file named by $MUTATION_DURATIONS, so the
runner can run a mutant's fastest tests first and give it a timeout.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterator

import coverage
import pytest

_durations: defaultdict[str, float] = defaultdict(float)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    cov = coverage.Coverage.current()
    if cov is not None:
        cov.switch_context(item.nodeid)
    yield
    if cov is not None:
        cov.switch_context("")  # lines run between tests (imports) belong to no test


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _durations[report.nodeid] += report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get("MUTATION_DURATIONS")
    if path:
        with open(path, "w") as out:
            json.dump(_durations, out, indent=0, sort_keys=True)
