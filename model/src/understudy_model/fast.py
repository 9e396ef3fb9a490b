"""A lean predictor compiled from the fitted reference pipeline.

The reference path (``LoadedModel.predict_rows``) builds a pandas frame and runs
the scikit-learn pipeline: about 10 ms per call whatever the number of rows,
almost all of it per-call overhead. :func:`compile_fast_predictor` reads the
fitted parameters out of the pipeline once and predicts from plain numpy:

* numbers: ``(x - mean_) / scale_``, the StandardScaler's own arithmetic;
* categories: a dict from category to column, unseen ones left all-zero, as
  ``OneHotEncoder(handle_unknown="ignore")`` does;
* Ridge: one dot product per row (``einsum``, whose per-row sum does not depend
  on the number of rows, so a batch predicts exactly what single rows do;
  BLAS ``X @ coef`` does not);
* GradientBoostingRegressor: its own ``predict`` on the numpy matrix (per-row
  tree walks, batch-independent);
* TransformedTargetRegressor: its ``inverse_func`` (exp: log price -> dollars).

It equals the reference within 1e-9 relative (tests/model/test_fast_path.py).
It only compiles pipelines whose every part it knows; anything else raises
:class:`UnsupportedPipelineError` naming the part, so it can never silently
differ from the reference. :func:`verify_against_reference` is the run-time
guard the service applies at start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from operator import itemgetter
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import GradientBoostingRegressor

# The tree walk GradientBoostingRegressor.predict runs; private, but the artifact
# pins the scikit-learn version and start-up verification checks the result.
from sklearn.ensemble._gradient_boosting import predict_stages
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from understudy_model.artifact import LoadedModel
from understudy_model.data import MISSING_CATEGORY
from understudy_model.schema import FeatureSchema
from understudy_model.trees import few_rows_walker

# The fast path must agree with the reference this closely (relative difference).
REL_TOLERANCE = 1e-9


class UnsupportedPipelineError(ValueError):
    """The pipeline has a structure the fast path does not understand."""


class FastPathMismatchError(RuntimeError):
    """The compiled predictor disagrees with the reference pipeline."""


@dataclass(frozen=True)
class _Regressor:
    """The final regressor on the encoded matrix, in log-price space."""

    kind: str
    predict: Callable[[np.ndarray], np.ndarray]


class FastPredictor:
    """Clean rows (see ``validation.py``) -> dollars, without pandas or scikit-learn glue."""

    def __init__(
        self,
        *,
        numeric: Sequence[str],
        mean: np.ndarray,
        scale: np.ndarray,
        categorical: Sequence[str],
        category_columns: Sequence[dict[object, int]],
        n_features: int,
        regressor: _Regressor,
        inverse_func: Callable[[np.ndarray], np.ndarray],
    ) -> None:
        self.numeric = tuple(numeric)
        self.categorical = tuple(categorical)
        self._mean = mean
        self._scale = scale
        # itemgetters return a row's fields as a tuple in one C call (fields in order).
        self._numbers_of = itemgetter(*self.numeric)
        self._categories_of = itemgetter(*self.categorical)
        # Per categorical field: category -> its column in the encoded matrix.
        self._column_getters = tuple(columns.get for columns in category_columns)
        self.n_features = n_features
        self.regressor_kind = regressor.kind
        self._regress = regressor.predict
        self._inverse = inverse_func

    def encode(self, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        """The matrix the reference ColumnTransformer would produce for ``rows``."""
        n_rows, n_num, width = len(rows), len(self.numeric), self.n_features
        # One column more than the model's: an unseen category sets its 1.0 there, and it is
        # cut off at the end, so the rows stay all zeros, like handle_unknown="ignore". So no
        # step filters the unseen ones out: for one row, 3 numpy calls instead of 6 for the
        # categories (each costs microseconds inside a request); faster at 256 rows too.
        matrix = np.zeros((n_rows, width + 1), dtype=np.float64)
        if not n_rows:
            return matrix[:, :width]
        numbers = np.array([self._numbers_of(row) for row in rows], dtype=np.float64)
        matrix[:, :n_num] = (numbers - self._mean) / self._scale
        getters = self._column_getters
        columns = np.array(
            [
                get(value, width)
                for row in rows
                for get, value in zip(getters, self._categories_of(row), strict=True)
            ],
            dtype=np.intp,
        ).reshape(n_rows, len(getters))
        if n_rows > 1:  # flat positions: each row starts width + 1 further on
            columns += np.arange(0, n_rows * (width + 1), width + 1, dtype=np.intp)[:, None]
        matrix.put(columns, 1.0)
        return matrix[:, :width]

    def predict_rows(self, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        """Dollars for each row; same input and output as ``LoadedModel.predict_rows``."""
        if not rows:
            return np.zeros(0, dtype=np.float64)
        log_price = self._regress(self.encode(rows))
        return np.asarray(self._inverse(log_price), dtype=np.float64)


def _fail(what: str) -> UnsupportedPipelineError:
    return UnsupportedPipelineError(
        f"the fast path cannot compile this pipeline: {what}; "
        "serve it with the reference predictor or teach understudy_model.fast the new part"
    )


def _preprocess_parts(
    preprocess: object, schema: FeatureSchema
) -> tuple[StandardScaler, OneHotEncoder]:
    if not isinstance(preprocess, ColumnTransformer) or type(preprocess) is not ColumnTransformer:
        raise _fail(f"first step is {type(preprocess).__name__}, expected ColumnTransformer")
    parts = [t for t in preprocess.transformers_ if not (t[0] == "remainder" and t[1] == "drop")]
    names = [(name, type(est).__name__) for name, est, _ in parts]
    if names != [("numeric", "StandardScaler"), ("categorical", "OneHotEncoder")]:
        raise _fail(
            f"column transformers are {names}, expected numeric StandardScaler "
            "then categorical OneHotEncoder and nothing else"
        )
    (_, scaler, num_cols), (_, encoder, cat_cols) = parts
    if list(num_cols) != schema.numeric or list(cat_cols) != schema.categorical:
        raise _fail("its columns differ from the artifact's feature schema")
    if not (scaler.with_mean and scaler.with_std):
        raise _fail("StandardScaler without centring or scaling")
    if encoder.handle_unknown != "ignore" or encoder.drop is not None:
        raise _fail(
            f"OneHotEncoder(handle_unknown={encoder.handle_unknown!r}, drop={encoder.drop!r}); "
            "only handle_unknown='ignore' without drop is supported"
        )
    if encoder.min_frequency is not None or encoder.max_categories is not None:
        raise _fail("OneHotEncoder groups infrequent categories")
    for name, categories in zip(cat_cols, encoder.categories_, strict=True):
        if not all(isinstance(c, str) for c in categories):
            raise _fail(f"categories of {name} are not all strings")
    return scaler, encoder


def _gradient_boosting(model: GradientBoostingRegressor) -> _Regressor:
    """What ``GradientBoostingRegressor.predict`` computes, minus its ~0.3 ms of input
    checks: float32 features, the init estimator's constant, then the trees' own
    Cython walk (``predict_stages``, the function ``predict`` itself calls)."""
    if model.loss != "squared_error" or type(model.init_) is not DummyRegressor:
        raise _fail(
            f"GradientBoostingRegressor(loss={model.loss!r}, init={model.init_!r}); "
            "only squared_error with the default init estimator is supported"
        )
    constant = np.asarray(model.init_.constant_, dtype=np.float64).ravel()
    if constant.size != 1 or model.estimators_.shape[1] != 1:
        raise _fail("GradientBoostingRegressor with several targets")
    baseline = float(constant[0])
    estimators, learning_rate = model.estimators_, float(model.learning_rate)
    # A few rows (a single-record request): all trees at once (trees.py, the same bits).
    few = few_rows_walker(
        [e.tree_ for e in estimators[:, 0]], learning_rate=learning_rate, baseline=baseline
    )

    def predict(x: np.ndarray) -> np.ndarray:
        if x.shape[0] <= few.max_rows:
            return few(x)
        raw = np.full((x.shape[0], 1), baseline, dtype=np.float64)
        predict_stages(estimators, np.ascontiguousarray(x, dtype=np.float32), learning_rate, raw)
        return raw.ravel()

    return _Regressor(kind="gradient_boosting", predict=predict)


def _regressor(model: object) -> _Regressor:
    if isinstance(model, Ridge) and type(model) is Ridge:
        coef = np.asarray(model.coef_, dtype=np.float64)
        if coef.ndim != 1:
            raise _fail("Ridge with several targets")
        intercept = float(model.intercept_)
        return _Regressor(kind="ridge", predict=lambda x: np.einsum("ij,j->i", x, coef) + intercept)
    if type(model) is GradientBoostingRegressor:
        return _gradient_boosting(model)
    raise _fail(
        f"final regressor {type(model).__name__} (supported: Ridge, GradientBoostingRegressor)"
    )


def compile_fast_predictor(model: LoadedModel) -> FastPredictor:
    """Read the fitted parameters out of ``model.pipeline``; fail loudly if unsure."""
    from understudy_model.faults import (
        Flaky,
        FlakyPredictor,
        SegmentShift,
        ShiftedPredictor,
        Slowdown,
        SlowedPredictor,
    )

    pipeline = model.pipeline
    if isinstance(pipeline, SegmentShift | Slowdown | Flaky):  # deliberately wrong (faults.py)
        inner = compile_fast_predictor(replace(model, pipeline=pipeline.inner))
        if isinstance(pipeline, Flaky):
            return FlakyPredictor(inner, pipeline)  # type: ignore[return-value]
        if isinstance(pipeline, Slowdown):
            return SlowedPredictor(inner, pipeline)  # type: ignore[return-value]
        return ShiftedPredictor(inner, pipeline)  # type: ignore[return-value]
    if type(pipeline) is not Pipeline or [n for n, _ in pipeline.steps] != ["preprocess", "model"]:
        raise _fail("expected Pipeline([('preprocess', ...), ('model', ...)])")
    scaler, encoder = _preprocess_parts(pipeline.named_steps["preprocess"], model.schema)
    target = pipeline.named_steps["model"]
    if type(target) is not TransformedTargetRegressor:
        raise _fail(f"model step is {type(target).__name__}, expected TransformedTargetRegressor")
    if target.transformer is not None or target.inverse_func is not np.exp:
        raise _fail("TransformedTargetRegressor whose inverse is not numpy.exp")
    offset = len(model.schema.numeric)
    category_columns: list[dict[object, int]] = []
    for categories in encoder.categories_:
        columns: dict[object, int] = {str(c): offset + j for j, c in enumerate(categories)}
        if MISSING_CATEGORY in columns:  # null is the explicit "missing" category (to_frame)
            columns[None] = columns[MISSING_CATEGORY]
        category_columns.append(columns)
        offset += len(categories)
    n_features = offset
    regressor = _regressor(target.regressor_)
    if getattr(target.regressor_, "n_features_in_", n_features) != n_features:
        raise _fail("the regressor was fitted on a different number of features")
    return FastPredictor(
        numeric=model.schema.numeric,
        mean=np.asarray(scaler.mean_, dtype=np.float64),
        scale=np.asarray(scaler.scale_, dtype=np.float64),
        categorical=model.schema.categorical,
        category_columns=category_columns,
        n_features=n_features,
        regressor=regressor,
        inverse_func=np.exp,
    )


def probe_rows(schema: FeatureSchema) -> list[dict[str, Any]]:
    """Rows built from the schema alone that touch every category, null, the bounds of
    every numeric field and an unseen category: enough to catch an encoding slip.
    Needs no data set, so the service can run it at start-up."""
    base: dict[str, Any] = {}
    for spec in schema.fields:
        if spec.kind == "numeric":
            lo, hi = spec.observed_min or 0.0, spec.observed_max or 0.0
            middle = (lo + hi) / 2
            base[spec.name] = round(middle) if spec.type == "integer" else middle
        else:
            base[spec.name] = spec.categories[0] if spec.categories else MISSING_CATEGORY
    rows = [dict(base)]
    for spec in schema.fields:
        if spec.kind == "numeric":
            for bound in (spec.observed_min, spec.observed_max):
                if bound is not None:
                    value = int(bound) if spec.type == "integer" else float(bound)
                    rows.append({**base, spec.name: value})
        else:
            for category in spec.categories:
                rows.append({**base, spec.name: category})
            rows.append({**base, spec.name: "__never_seen_in_training__"})
    return rows


def verify_against_reference(
    predictor: FastPredictor,
    model: LoadedModel,
    rows: Sequence[dict[str, Any]],
    *,
    rel_tolerance: float = REL_TOLERANCE,
) -> float:
    """Predict ``rows`` both ways; raise :class:`FastPathMismatchError` past the tolerance.

    Returns the largest relative difference seen.
    """
    rows = list(rows)
    fast = predictor.predict_rows(rows)
    reference = model.predict_rows(rows)
    rel = np.abs(fast - reference) / np.maximum(np.abs(reference), np.finfo(float).tiny)
    worst = float(np.max(rel)) if rel.size else 0.0
    if not np.all(np.isfinite(fast)) or worst > rel_tolerance:
        index = int(np.argmax(rel))
        raise FastPathMismatchError(
            f"fast path differs from the reference pipeline of {model.name} {model.version}: "
            f"row {index}: fast {fast[index]!r} vs reference {reference[index]!r} "
            f"(relative {worst:.3g} > {rel_tolerance:g})"
        )
    return worst
