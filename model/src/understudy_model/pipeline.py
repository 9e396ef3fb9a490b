"""The reference scikit-learn pipelines. Both versions share one preprocessing
contract (scaled numbers, one-hot categories with unseen ones ignored) and
learn log(price); predictions come out in dollars."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from understudy_model.data import MISSING_CATEGORY
from understudy_model.schema import FeatureSchema

Algorithm = Literal["linear", "gbr"]
ALGORITHMS: tuple[Algorithm, ...] = ("linear", "gbr")


def build_pipeline(*, algorithm: Algorithm, schema: FeatureSchema, seed: int) -> Pipeline:
    preprocess = ColumnTransformer(
        [
            ("numeric", StandardScaler(), schema.numeric),
            (
                "categorical",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                schema.categorical,
            ),
        ],
        sparse_threshold=0.0,
    )
    regressor: Any
    if algorithm == "linear":
        # v1: ridge regression on log price; alpha fixed at 10 (not tuned: v1 is the
        # simple baseline the candidate has to beat).
        regressor = Ridge(alpha=10.0)
    elif algorithm == "gbr":
        # v2: gradient boosting on log price.
        regressor = GradientBoostingRegressor(
            n_estimators=300, max_depth=3, learning_rate=0.1, random_state=seed
        )
    else:
        raise ValueError(f"unknown algorithm {algorithm!r}; choose one of {ALGORITHMS}")
    model = TransformedTargetRegressor(regressor=regressor, func=np.log, inverse_func=np.exp)
    return Pipeline([("preprocess", preprocess), ("model", model)])


def to_frame(rows: list[dict[str, Any]], schema: FeatureSchema) -> pd.DataFrame:
    """Clean rows (see validation.py) -> the frame the pipeline expects."""
    frame = pd.DataFrame.from_records(rows, columns=schema.names)
    for spec in schema.fields:
        column = frame[spec.name]
        if spec.kind == "numeric":
            if column.dtype == object:  # a null among the numbers: NaN, as in a CSV
                frame[spec.name] = pd.to_numeric(column).astype(float)
            continue
        column = column.astype(object)
        if spec.missing_as == "category":
            column = column.fillna(MISSING_CATEGORY)
        else:  # None and NaN both mean missing; give the pipeline NaN, as read from a file
            column = column.where(column.notna(), np.nan)
        frame[spec.name] = column
    return frame


def prepare_training_frame(frame: pd.DataFrame, schema: FeatureSchema) -> pd.DataFrame:
    """Training data -> the same encoding of empty categories that serving uses."""
    features = frame[schema.names].copy()
    for name in schema.categorical:
        features[name] = features[name].fillna(MISSING_CATEGORY).astype(object)
    return features
