"""``understudy model pack``: any fitted scikit-learn pipeline -> a served artifact.

The user brings a pipeline (``joblib.dump``-ed, fitted) and a sample of the records it
will be asked about (CSV or Parquet, ideally a holdout set). Packing:

1. loads the pipeline, refusing one pickled by another scikit-learn version;
2. checks the sample has every column the pipeline was fitted on;
3. infers the feature schema from the sample (``schema.infer_schema``: types,
   categories, observed ranges, nullability; high-cardinality strings keep their most
   frequent values) — an editable JSON inside ``model.json``;
4. predicts the sample twice — directly, and as the service will: JSON records,
   validated against the schema, rebuilt into a frame — and refuses when either fails
   or the two differ (the schema would then serve something the pipeline never saw);
5. with ``target``, records metrics on the sample; always a drift reference;
6. writes ``model.joblib`` + ``model.json`` (artifact format 2) with ``save_artifact``.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from understudy_model.artifact import library_versions, save_artifact
from understudy_model.data import fingerprint
from understudy_model.pipeline import to_frame
from understudy_model.records import frame_records
from understudy_model.reference import build_reference
from understudy_model.schema import FeatureSchema, infer_schema
from understudy_model.task import Task, TaskKind
from understudy_model.validation import validate_records

# A categorical field with more distinct values in the sample keeps only this many (the
# most frequent) and is marked high_cardinality: no unseen-category warnings for it.
MAX_CATEGORIES = 100
# Packed and direct predictions of a regressor must agree this closely (relative): the
# same pipeline on the same values; only a dtype change could move them at all.
ROUND_TRIP_REL_TOLERANCE = 1e-9
# The most rows of the sample shown in an error.
SHOWN = 5


class PackError(ValueError):
    """The pipeline, the sample or the options cannot make a servable artifact."""


@dataclass(frozen=True)
class PackResult:
    out_dir: Path
    metadata: dict[str, Any]


def read_table(path: Path) -> pd.DataFrame:
    """A CSV or Parquet file as a frame (by its suffix)."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise PackError(f"{path}: no such file")
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except ImportError as exc:
        raise PackError(f"{path}: reading Parquet needs pyarrow: {exc}") from exc
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise PackError(f"{path} could not be read as {suffix[1:]}: {exc}") from exc
    raise PackError(f"{path}: expected a .csv or .parquet file, got {suffix or 'no suffix'!r}")


def load_pipeline(path: Path) -> Any:
    """The fitted pipeline in ``path``; a clear error for another scikit-learn version
    (scikit-learn warns, and a pickle from another version may predict wrongly)."""
    from sklearn.exceptions import InconsistentVersionWarning

    if not path.is_file():
        raise PackError(f"{path}: no such file")
    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        try:
            pipeline = joblib.load(io.BytesIO(path.read_bytes()))
        except InconsistentVersionWarning as exc:
            raise PackError(
                f"{path} was pickled with scikit-learn {exc.original_sklearn_version}, "
                f"but {library_versions()['scikit-learn']} is installed: re-fit and dump it "
                "with the installed version (a pickle is only safe with the version that "
                "wrote it)"
            ) from None
        except Exception as exc:  # any unpickling failure means the same thing here
            raise PackError(f"{path} could not be loaded with joblib: {exc}") from exc
    if not hasattr(pipeline, "predict"):
        raise PackError(f"{path} holds a {type(pipeline).__name__}, which has no predict()")
    return pipeline


def _features(pipeline: Any, sample: pd.DataFrame, target: str | None) -> pd.DataFrame:
    """The sample's feature columns, in the order the pipeline was fitted on."""
    if target is not None and target not in sample.columns:
        raise PackError(f"the sample has no target column {target!r}")
    fitted = getattr(pipeline, "feature_names_in_", None)
    if fitted is None:  # fitted on a numpy array: every column but the target, in order
        return sample.drop(columns=[target] if target else [])
    names = [str(n) for n in fitted]
    missing = [n for n in names if n not in sample.columns]
    if missing:
        raise PackError(
            f"the sample lacks {len(missing)} column(s) the pipeline was fitted on: "
            f"{', '.join(missing[:20])}{' ...' if len(missing) > 20 else ''}"
        )
    return sample[names]


def _algorithm(pipeline: Any) -> str:
    steps = getattr(pipeline, "steps", None)
    final = steps[-1][1] if steps else pipeline
    return type(final).__name__


def _task(pipeline: Any, kind: TaskKind, positive_class: str | None) -> Task:
    if kind == "regression":
        if positive_class is not None:
            raise PackError("--positive-class is for classifiers (--task classification)")
        return Task()
    for needed in ("predict_proba", "classes_"):
        if not hasattr(pipeline, needed):
            raise PackError(
                f"--task classification needs predict_proba() and classes_; "
                f"{_algorithm(pipeline)} has no {needed}"
            )
    try:
        return Task.classifier(pipeline.classes_, positive_class)
    except ValueError as exc:
        raise PackError(str(exc)) from exc


def _predict(pipeline: Any, frame: pd.DataFrame, task: Task, what: str) -> np.ndarray:
    """Regression: the predictions. Classification: probabilities, with the labels
    checked to be classes."""
    try:
        if not task.is_classification:
            values = np.asarray(pipeline.predict(frame), dtype=float)
        else:
            values = np.asarray(pipeline.predict_proba(frame), dtype=float)
    except Exception as exc:  # the user's pipeline: anything it raises is the answer
        raise PackError(
            f"the pipeline cannot predict on {what}: {type(exc).__name__}: {exc}"
        ) from exc
    if values.shape[0] != len(frame):
        raise PackError(
            f"the pipeline returned {values.shape[0]} predictions for {len(frame)} rows"
        )
    if not np.all(np.isfinite(values)):
        bad = np.flatnonzero(~np.isfinite(values.reshape(len(frame), -1)).all(axis=1))
        raise PackError(
            f"the pipeline's predictions on {what} are not finite in rows {bad[:SHOWN].tolist()}"
        )
    return values


def _round_trip(
    pipeline: Any, features: pd.DataFrame, schema: FeatureSchema, task: Task, direct: np.ndarray
) -> None:
    """Predict the sample as the service will, and hold it equal to the direct result."""
    checked = validate_records(frame_records(features, schema), schema)
    if not checked.ok:
        shown = "; ".join(f"row {i.record} {i.field}: {i.message}" for i in checked.errors[:SHOWN])
        raise PackError(f"the inferred schema rejects rows of its own sample: {shown}")
    served = _predict(
        pipeline, to_frame(checked.rows, schema), task, "the sample as served (JSON records)"
    )
    if task.is_classification:
        same = np.abs(served - direct) <= 1e-12 + ROUND_TRIP_REL_TOLERANCE * np.abs(direct)
        rows = np.flatnonzero(~same.all(axis=1))
    else:
        scale = np.maximum(np.abs(direct), np.finfo(float).tiny)
        rows = np.flatnonzero(np.abs(served - direct) / scale > ROUND_TRIP_REL_TOLERANCE)
    if rows.size:
        i = int(rows[0])
        raise PackError(
            f"the pipeline predicts {rows.size} sample row(s) differently when they arrive "
            f"as JSON records (row {i}: {served[i]!r} vs {direct[i]!r}); a column's type "
            "probably changes on the way (e.g. numbers stored as strings): fix its dtype in "
            "the sample or in the pipeline"
        )


def sample_metrics(
    task: Task, y_true: pd.Series, values: np.ndarray, labels: list[str] | None
) -> dict[str, float]:
    """Regression: RMSE, MAE, R². Classification: accuracy, log loss, and ROC AUC of
    the positive class for two classes."""
    from sklearn import metrics

    if not task.is_classification:
        y = y_true.to_numpy(dtype=float)
        errors = values - y
        return {
            "rmse": float(np.sqrt(np.mean(errors**2))),
            "mae": float(np.mean(np.abs(errors))),
            "r2": float(metrics.r2_score(y, values)),
        }
    truth = y_true.astype(str).to_numpy()
    unknown = sorted(set(truth) - set(task.classes))
    if unknown:
        raise PackError(f"the target holds labels the model does not know: {unknown[:SHOWN]}")
    out = {
        "accuracy": float(np.mean(truth == np.asarray(labels))),
        "log_loss": float(metrics.log_loss(truth, values, labels=list(task.classes))),
    }
    if len(task.classes) == 2:
        positive = truth == task.positive_class
        if 0 < positive.sum() < len(positive):
            out["roc_auc"] = float(metrics.roc_auc_score(positive, values[:, task.positive_index]))
    return out


def pack(
    *,
    pipeline_path: Path,
    sample_path: Path,
    name: str,
    version: str,
    task_kind: TaskKind,
    out_dir: Path,
    target: str | None = None,
    positive_class: str | None = None,
    max_categories: int = MAX_CATEGORIES,
) -> PackResult:
    pipeline = load_pipeline(pipeline_path)
    sample = read_table(sample_path)
    if sample.empty:
        raise PackError(f"{sample_path} has no rows")
    task = _task(pipeline, task_kind, positive_class)
    features = _features(pipeline, sample, target)
    schema = infer_schema(features, target=None, missing_as="null", max_categories=max_categories)
    direct = _predict(pipeline, features, task, f"the sample {sample_path}")
    _round_trip(pipeline, features, schema, task, direct)
    labels: list[str] | None = None
    if task.is_classification:
        labels = [str(label) for label in pipeline.predict(features)]
        summary = direct[:, task.positive_index]  # the one number per prediction (task.py)
    else:
        summary = direct
    metrics = {"holdout": sample_metrics(task, sample[target], direct, labels)} if target else {}
    metadata = {
        "name": name,
        "version": version,
        "algorithm": _algorithm(pipeline),
        # A packed model was trained elsewhere: the time it was packed, and the file it came from.
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "packed": {"pipeline": str(pipeline_path), "sample": str(sample_path)},
        "task": task.to_dict(),
        "data": {
            "source": sample_path.name,
            "fingerprint": fingerprint(sample),
            "rows_sample": len(sample),
            "target": target,
        },
        "feature_schema": schema.to_dict(),
        # On the sample; a holdout set the pipeline never saw makes them holdout metrics.
        "metrics": metrics,
        "reference": build_reference(features, schema, summary).to_dict(),
    }
    save_artifact(out_dir, pipeline=pipeline, metadata=metadata)
    return PackResult(out_dir=out_dir, metadata=metadata)
