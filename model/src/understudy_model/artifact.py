"""Model artifacts: ``model.joblib`` + ``model.json`` in a directory.

``model.json`` records what the model is (name, version, algorithm), what it was
trained on (data fingerprint, feature schema), how good it is (holdout metrics)
and with what (library versions, the joblib file's sha256). Loading checks all
of that and fails with a clear :class:`ArtifactError` instead of serving a
model that is corrupt or was pickled by another scikit-learn.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.pipeline import Pipeline

from understudy_model.reference import Reference
from understudy_model.schema import FeatureSchema
from understudy_model.task import REGRESSION, Task

# Format 2 adds the optional "task" block (regression or a classifier's classes and
# positive class, task.py) and the schema's per-field ``missing_as`` and
# ``high_cardinality``; format 1 (no task block) reads as a regression.
FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)
MODEL_FILE = "model.joblib"
METADATA_FILE = "model.json"
REQUIRED_KEYS = (
    "format_version",
    "name",
    "version",
    "algorithm",
    "trained_at",
    "data",
    "feature_schema",
    "metrics",
    "libraries",
    "artifact",
)
# A pickled scikit-learn estimator is only safe to load with the same version.
CHECKED_LIBRARIES = ("scikit-learn",)


class ArtifactError(RuntimeError):
    """The artifact directory is missing, corrupt or incompatible."""


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        **{name: version(name) for name in ("scikit-learn", "numpy", "pandas", "joblib")},
    }


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class LoadedModel:
    pipeline: Pipeline
    metadata: dict[str, Any]
    schema: FeatureSchema
    path: Path
    # What inputs and predictions looked like in training (reference.py); None for an
    # artifact written before references existed: it serves, drift says "no reference".
    reference: Reference | None = None
    # Regression (format 1 artifacts, the Ames models) or a classifier (task.py).
    task: Task = REGRESSION

    @property
    def name(self) -> str:
        return str(self.metadata["name"])

    @property
    def version(self) -> str:
        return str(self.metadata["version"])

    @property
    def algorithm(self) -> str:
        return str(self.metadata["algorithm"])

    def predict_rows(self, rows: list[dict[str, Any]]) -> np.ndarray:
        """The reference path: clean rows -> pandas frame -> pipeline -> dollars."""
        from understudy_model.pipeline import to_frame

        return np.asarray(self.pipeline.predict(to_frame(rows, self.schema)), dtype=float)

    def predict_classes(self, rows: list[dict[str, Any]]) -> np.ndarray:
        """A classifier's reference path: one row per record, column 0 the index in
        ``task.classes`` of ``pipeline.predict``'s label, then ``predict_proba``'s class
        probabilities (``task.py``: ``split_classes`` reads it back). One float matrix, so
        the micro-batcher slices it by record like a regressor's predictions."""
        from understudy_model.pipeline import to_frame

        frame = to_frame(rows, self.schema)
        labels = self.pipeline.predict(frame)
        probabilities = np.asarray(self.pipeline.predict_proba(frame), dtype=float)
        index = {name: i for i, name in enumerate(self.task.classes)}
        label_index = np.array([index[str(label)] for label in labels], dtype=float)
        return np.column_stack([label_index, probabilities])


def save_artifact(out_dir: Path, *, pipeline: Pipeline, metadata: dict[str, Any]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / MODEL_FILE
    joblib.dump(pipeline, model_path)
    full = {
        "format_version": FORMAT_VERSION,
        **metadata,
        "libraries": library_versions(),
        "artifact": {"file": MODEL_FILE, "sha256": _sha256(model_path.read_bytes())},
    }
    (out_dir / METADATA_FILE).write_text(json.dumps(full, indent=2, sort_keys=True) + "\n")
    return out_dir


def read_metadata(artifact_dir: Path) -> dict[str, Any]:
    meta_path = artifact_dir / METADATA_FILE
    if not meta_path.is_file():
        raise ArtifactError(f"{meta_path} not found: not a model artifact directory")
    try:
        metadata = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{meta_path} is not valid JSON: {exc}") from exc
    if not isinstance(metadata, dict):
        raise ArtifactError(f"{meta_path} must hold a JSON object")
    missing = [k for k in REQUIRED_KEYS if k not in metadata]
    if missing:
        raise ArtifactError(f"{meta_path} lacks required keys: {', '.join(missing)}")
    if metadata["format_version"] not in READABLE_FORMATS:
        raise ArtifactError(
            f"{meta_path} has format_version {metadata['format_version']!r}; "
            f"this code reads format_version {' and '.join(map(str, READABLE_FORMATS))}"
        )
    return metadata


def load_artifact(artifact_dir: Path | str) -> LoadedModel:
    artifact_dir = Path(artifact_dir)
    metadata = read_metadata(artifact_dir)
    installed = library_versions()
    for lib in CHECKED_LIBRARIES:
        trained_with = metadata["libraries"].get(lib)
        if trained_with != installed[lib]:
            raise ArtifactError(
                f"artifact {artifact_dir} was trained with {lib} {trained_with}, "
                f"but {lib} {installed[lib]} is installed; retrain it (make models) "
                "or re-pack it (understudy model pack) with the installed version, "
                "or install the matching version"
            )
    model_path = artifact_dir / str(metadata["artifact"].get("file", MODEL_FILE))
    if not model_path.is_file():
        raise ArtifactError(f"{model_path} not found")
    expected = metadata["artifact"].get("sha256")
    # Read once: the bytes that are hashed are the bytes that are unpickled.
    data = model_path.read_bytes()
    actual = _sha256(data)
    if actual != expected:
        raise ArtifactError(
            f"{model_path} is corrupt or was replaced: sha256 {actual} != recorded {expected}"
        )
    try:
        pipeline = joblib.load(io.BytesIO(data))
    except Exception as exc:  # any unpickling failure means the same thing here
        raise ArtifactError(f"{model_path} could not be loaded: {exc}") from exc
    if not hasattr(pipeline, "predict"):
        raise ArtifactError(f"{model_path} holds a {type(pipeline).__name__}, not a model")
    try:
        schema = FeatureSchema.from_dict(metadata["feature_schema"])
        reference = Reference.from_dict(metadata["reference"]) if "reference" in metadata else None
        task = Task.from_dict(metadata.get("task"))
    except ValueError as exc:
        raise ArtifactError(f"{artifact_dir}/{METADATA_FILE}: {exc}") from exc
    if task.is_classification:
        problem = task.mismatch(pipeline)
        if problem:
            raise ArtifactError(f"{artifact_dir}: {problem}")
    return LoadedModel(
        pipeline=pipeline,
        metadata=metadata,
        schema=schema,
        path=artifact_dir,
        reference=reference,
        task=task,
    )
