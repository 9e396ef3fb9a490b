"""Table rows -> the JSON records a client sends to ``POST /v1/predictions``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from understudy_model.schema import FeatureSchema


def plain(value: object) -> object:
    """numpy scalars -> Python scalars and NaN -> None, so records serialise as JSON."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NaT or value is pd.NA:
        return None
    return value


def frame_records(frame: pd.DataFrame, schema: FeatureSchema | None = None) -> list[dict[str, Any]]:
    """One JSON-ready record per row. With ``schema``: only its fields, categorical
    values as strings (as the schema infers them) and whole floats of integer fields
    as ints (a CSV column with a gap reads as floats)."""
    if schema is not None:
        frame = frame[schema.names]
    records: list[dict[str, Any]] = []
    for row in frame.to_dict(orient="records"):
        record = {str(k): plain(v) for k, v in row.items()}
        if schema is not None:
            for spec in schema.fields:
                value = record[spec.name]
                if value is None:
                    continue
                if spec.kind == "categorical":
                    record[spec.name] = str(value)
                elif spec.type == "integer" and isinstance(value, float) and value.is_integer():
                    record[spec.name] = int(value)
        records.append(record)
    return records
