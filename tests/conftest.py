"""Fixtures shared by the whole suite.

Trained artifacts are built once per session (training takes seconds) into a
temporary folder, unless UNDERSTUDY_ARTIFACTS names a folder that already holds
``v1/``, ``v2/`` and ``bad/`` (``make models`` writes them to ``artifacts/``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from tests.support.artifacts import Artifacts, ensure_artifact
from understudy_model.data import Split, load_ames, split_holdout

# Hypothesis's default 200 ms deadline per example is a timed assertion: on a loaded
# machine (xdist workers sharing two cores) it fails correct code. The properties are
# about results, so no deadline.
settings.register_profile("understudy", deadline=None)
settings.load_profile("understudy")

# The session-scoped `k8s_cluster` fixture (kwok cluster from upstream binaries),
# `postgres_server` (a real PostgreSQL from Debian's package), and how `make test` splits
# the suite over xdist workers.
pytest_plugins = ["tests.support.cluster", "tests.support.postgres", "tests.support.parallel"]


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Artifacts:
    given = os.environ.get("UNDERSTUDY_ARTIFACTS")
    root = Path(given) if given else tmp_path_factory.mktemp("artifacts")
    return Artifacts(
        v1=ensure_artifact(root / "v1", algorithm="linear", version="1.0.0"),
        v2=ensure_artifact(root / "v2", algorithm="gbr", version="2.0.0"),
        bad=ensure_artifact(
            root / "bad", algorithm="gbr", version="2.0.0-bad", shuffle_target=True
        ),
    )


@pytest.fixture(scope="session")
def ames_split() -> Split:
    return split_holdout(load_ames())
