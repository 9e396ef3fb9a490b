"""The demo's scenarios: which model versions play live and candidate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # scikit-learn is not needed to name a scenario
    from understudy_model.pipeline import Algorithm


@dataclass(frozen=True)
class ModelVersion:
    version: str
    folder: str  # under the artifacts directory
    algorithm: Algorithm
    shuffle_target: bool = False


@dataclass(frozen=True)
class Scenario:
    name: str
    live: ModelVersion
    candidate: ModelVersion
    summary: str


V1 = ModelVersion("1.0.0", "v1", "linear")
SCENARIOS = {
    "good": Scenario(
        "good",
        V1,
        ModelVersion("2.0.0", "v2", "gbr"),
        "v2 (gradient boosting) shadows v1 (ridge) and should be promoted",
    ),
    "bad-candidate": Scenario(
        "bad-candidate",
        V1,
        ModelVersion("2.0.0-bad", "bad", "gbr", shuffle_target=True),
        "a candidate trained on shuffled prices shadows v1 and should be rolled back",
    ),
}
