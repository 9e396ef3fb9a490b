"""The second worked example: a classifier, packed with ``understudy model pack``.

Data: scikit-learn's bundled Wisconsin breast-cancer set (569 tumours, 30 measurements,
malignant or benign; shipped inside scikit-learn, nothing downloaded). A seeded 70/30
split; the holdout set is the sample the models are packed with and the traffic they are
shadowed on.

* v1 1.0.0 (live): logistic regression on the ten "mean ..." measurements (C=1);
  holdout accuracy 0.942;
* v2 2.0.0 (candidate, should be promoted): logistic regression on all 30 measurements
  (C=0.3), with a median imputer in front; accuracy 0.982, the same label as v1 on 95.9%
  of the holdout, KS of the malignant probabilities 0.058 (with C=1 it would be 0.19:
  sharper probabilities are a different distribution, which prediction-ks sees);
* bad 2.0.0-bad (should be rolled back): v2 trained on shuffled labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

NAME = "breast-cancer"
TARGET = "diagnosis"
POSITIVE = "malignant"
SEED = 42
HOLDOUT_FRACTION = 0.3


@dataclass(frozen=True)
class ExampleFiles:
    v1: Path
    v2: Path
    bad: Path
    holdout: Path


def _data() -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.data.copy()
    frame[TARGET] = np.where(bunch.target == 0, "malignant", "benign")
    train, holdout = train_test_split(
        frame, test_size=HOLDOUT_FRACTION, random_state=SEED, stratify=frame[TARGET]
    )
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


def write_pipelines(out: Path) -> ExampleFiles:
    """Fit the three pipelines, dump them and the holdout CSV into ``out``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import StandardScaler

    train, holdout = _data()
    features = [c for c in train.columns if c != TARGET]
    means = [c for c in features if c.startswith("mean ")]
    v1 = Pipeline(
        [
            ("select", ColumnTransformer([("mean", StandardScaler(), means)])),
            ("model", LogisticRegression(C=1.0, max_iter=2000)),
        ]
    )

    def v2_pipeline() -> Pipeline:
        return make_pipeline(
            SimpleImputer(strategy="median"),
            StandardScaler(),
            LogisticRegression(C=0.3, max_iter=2000),
        )

    shuffled = train[TARGET].sample(frac=1.0, random_state=SEED).to_numpy()
    out.mkdir(parents=True, exist_ok=True)
    files = ExampleFiles(
        v1=out / "v1.joblib",
        v2=out / "v2.joblib",
        bad=out / "bad.joblib",
        holdout=out / "holdout.csv",
    )
    joblib.dump(v1.fit(train[features], train[TARGET]), files.v1)
    joblib.dump(v2_pipeline().fit(train[features], train[TARGET]), files.v2)
    joblib.dump(v2_pipeline().fit(train[features], shuffled), files.bad)
    holdout.to_csv(files.holdout, index=False)
    return files
