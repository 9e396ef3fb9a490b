"""Users' own models for the pack/serve/shadow tests: fitted pipelines and their samples,
written as a user would (joblib.dump, a CSV), built from small seeded data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from understudy_cli.examples.breast_cancer import ExampleFiles, write_pipelines

CITIES = ("Ames", "Boone", "Nevada", "Story City")


@dataclass(frozen=True)
class UserModel:
    pipeline: Path
    sample: Path
    target: str


def messy_frame(rows: int = 400, *, seed: int = 3) -> pd.DataFrame:
    """Nulls in numbers and strings, an integer column, a column mixing numbers and
    strings, an id with a distinct value per row, and a target."""
    rng = np.random.default_rng(seed)
    area = rng.normal(120.0, 30.0, rows).round(1)
    area[rng.random(rows) < 0.1] = np.nan
    rooms = rng.integers(1, 8, rows)
    city = rng.choice(np.array(CITIES, dtype=object), rows)
    city[rng.random(rows) < 0.05] = None
    code = rng.choice(np.array([1, 2, "A", "B"], dtype=object), rows)
    price = 1000.0 * np.nan_to_num(area, nan=120.0) + 5000.0 * rooms + rng.normal(0, 5000, rows)
    price += np.where(city == "Ames", 20_000.0, 0.0)
    return pd.DataFrame(
        {
            "area": area,
            "rooms": rooms,
            "city": city,
            "code": code,
            "customer_id": [f"c{i:05d}" for i in range(rows)],
            "price": price,
        }
    )


def write_messy_regressor(
    out: Path, *, seed: int = 3, model_seed: int | None = None, scale: float = 1.0
) -> UserModel:
    """A CSV of :func:`messy_frame` and a pipeline fitted on it as read back (imputer,
    one-hot, random forest: steps the fast path does not know). ``scale`` multiplies the
    target it learns (a deliberately wrong model when not 1); ``model_seed`` the forest's
    seed (default ``seed``): another one is another, similar model of the same data."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    out.mkdir(parents=True, exist_ok=True)
    sample = out / "sample.csv"
    messy_frame(seed=seed).to_csv(sample, index=False)
    frame = pd.read_csv(sample)
    features = frame.drop(columns=["price"])
    pipeline = Pipeline(
        [
            (
                "prepare",
                ColumnTransformer(
                    [
                        ("numbers", SimpleImputer(strategy="median"), ["area", "rooms"]),
                        (
                            "words",
                            make_pipeline(
                                SimpleImputer(strategy="constant", fill_value="none"),
                                OneHotEncoder(handle_unknown="ignore"),
                            ),
                            ["city", "code"],
                        ),
                    ]
                ),
            ),
            (
                "model",
                RandomForestRegressor(
                    n_estimators=30, random_state=seed if model_seed is None else model_seed
                ),
            ),
        ]
    )
    pipeline.fit(features, frame["price"] * scale)
    path = out / "model.joblib"
    joblib.dump(pipeline, path)
    return UserModel(pipeline=path, sample=sample, target="price")


def write_classifier(out: Path) -> ExampleFiles:
    """The breast-cancer example's pipelines and holdout CSV."""
    return write_pipelines(out)
