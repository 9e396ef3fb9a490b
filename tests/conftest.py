"""Fixtures shared by the whole suite.

Trained artifacts are built once per session (training takes seconds) into a
temporary folder, unless UNDERSTUDY_ARTIFACTS names a folder that already holds
``v1/``, ``v2/`` and ``bad/`` (``make models`` writes them to ``artifacts/``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from understudy_model.artifact import ArtifactError, load_artifact
from understudy_model.data import Split, load_ames, split_holdout
from understudy_model.train import Progress, train

# The session-scoped `k8s_cluster` fixture (kwok cluster from upstream binaries).
pytest_plugins = ["tests.cluster_fixtures"]


@dataclass(frozen=True)
class Artifacts:
    v1: Path
    v2: Path
    bad: Path


def _ensure(path: Path, **kwargs: object) -> Path:
    try:
        load_artifact(path)
        return path
    except ArtifactError:
        with open(os.devnull, "w") as quiet:
            train(out_dir=path, progress=Progress(total=5, stream=quiet), **kwargs)  # type: ignore[arg-type]
        return path


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Artifacts:
    given = os.environ.get("UNDERSTUDY_ARTIFACTS")
    root = Path(given) if given else tmp_path_factory.mktemp("artifacts")
    return Artifacts(
        v1=_ensure(root / "v1", algorithm="linear", version="1.0.0"),
        v2=_ensure(root / "v2", algorithm="gbr", version="2.0.0"),
        bad=_ensure(root / "bad", algorithm="gbr", version="2.0.0-bad", shuffle_target=True),
    )


@pytest.fixture(scope="session")
def ames_split() -> Split:
    return split_holdout(load_ames())
