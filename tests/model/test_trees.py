"""The numpy tree walk and the tree table answer bit for bit what scikit-learn's
predict_stages answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.ensemble._gradient_boosting import predict_stages

from understudy_model.artifact import load_artifact
from understudy_model.data import Split, holdout_records
from understudy_model.fast import compile_fast_predictor, probe_rows
from understudy_model.trees import TreeTable, TreeWalk, few_rows_walker
from understudy_model.validation import validate_records


def _stages(model: GradientBoostingRegressor, x: np.ndarray) -> np.ndarray:
    raw = np.full((x.shape[0], 1), float(model.init_.constant_.ravel()[0]))
    predict_stages(
        model.estimators_, np.ascontiguousarray(x, dtype=np.float32), model.learning_rate, raw
    )
    return raw.ravel()


def _walk(
    model: GradientBoostingRegressor, kind: Callable[..., TreeWalk | TreeTable] = TreeWalk
) -> TreeWalk | TreeTable:
    return kind(
        [e.tree_ for e in model.estimators_[:, 0]],
        learning_rate=float(model.learning_rate),
        baseline=float(model.init_.constant_.ravel()[0]),
    )


def _fit(max_depth: int, min_samples_leaf: int) -> GradientBoostingRegressor:
    """Uneven trees (leaves at several depths), fitted on data with ties."""
    rng = np.random.default_rng(7)
    x = rng.integers(0, 5, size=(300, 6)).astype(np.float64)
    y = x[:, 0] * 3 + np.sin(x[:, 1]) + rng.normal(0, 0.1, 300)
    return GradientBoostingRegressor(
        n_estimators=40, max_depth=max_depth, min_samples_leaf=min_samples_leaf, random_state=0
    ).fit(x, y)


@pytest.fixture(scope="module")
def fitted() -> GradientBoostingRegressor:
    return _fit(max_depth=4, min_samples_leaf=10)


@pytest.fixture(scope="module")
def shallow() -> GradientBoostingRegressor:
    return _fit(max_depth=3, min_samples_leaf=30)


def _awkward_rows(model: GradientBoostingRegressor) -> np.ndarray:
    """Rows on the split thresholds themselves, with NaN and infinity."""
    rng = np.random.default_rng(8)
    thresholds = np.concatenate([e.tree_.threshold for e in model.estimators_[:, 0]])
    thresholds = thresholds[thresholds != -2]  # leaves
    x = rng.normal(2, 2, size=(64, 6))
    x[::3, :] = rng.choice(thresholds, size=x[::3, :].shape)  # exactly on a split
    x[5, 2] = np.nan  # goes right, as predict_stages sends it
    x[7, 0] = np.inf
    return x


def test_the_walk_equals_predict_stages_on_thresholds_ties_and_nan(
    fitted: GradientBoostingRegressor,
) -> None:
    x = _awkward_rows(fitted)
    for n in (1, 2, 3, 64):
        assert np.array_equal(_walk(fitted)(x[:n]), _stages(fitted, x[:n])), n
    assert not TreeTable.fits([e.tree_ for e in fitted.estimators_[:, 0]])  # too deep
    assert isinstance(_walk(fitted, few_rows_walker), TreeWalk)
    _assert_uneven(fitted)


def test_the_table_equals_predict_stages_on_thresholds_ties_and_nan(
    shallow: GradientBoostingRegressor,
) -> None:
    x = _awkward_rows(shallow)
    table = _walk(shallow, few_rows_walker)
    assert isinstance(table, TreeTable)
    for n in (1, 2, 3, 8, 64):
        assert np.array_equal(table(x[:n]), _stages(shallow, x[:n])), n
    _assert_uneven(shallow)


def test_a_tree_too_big_for_the_table_is_refused(fitted: GradientBoostingRegressor) -> None:
    with pytest.raises(ValueError, match="splits"):
        _walk(fitted, TreeTable)


def _assert_uneven(model: GradientBoostingRegressor) -> None:
    leaves_at = {
        depth
        for e in model.estimators_[:, 0]
        for depth in _leaf_depths(e.tree_.children_left, e.tree_.children_right)
    }
    assert len(leaves_at) > 1  # the trees are uneven: leaves wait at their depth


def _leaf_depths(left: np.ndarray, right: np.ndarray) -> list[int]:
    out, stack = [], [(0, 0)]
    while stack:
        node, depth = stack.pop()
        if left[node] == -1:
            out.append(depth)
        else:
            stack += [(left[node], depth + 1), (right[node], depth + 1)]
    return out


def test_the_fast_path_of_v2_walks_few_rows_and_equals_the_batch(
    artifacts: Any, ames_split: Split
) -> None:
    model = load_artifact(artifacts.v2)
    fast = compile_fast_predictor(model)
    rows = validate_records(holdout_records(ames_split, limit=40), model.schema).rows
    rows += probe_rows(model.schema)
    x = fast.encode(rows)
    gbr = model.pipeline.named_steps["model"].regressor_
    assert np.array_equal(_walk(gbr)(x), _stages(gbr, x))
    table = _walk(gbr, few_rows_walker)
    assert isinstance(table, TreeTable)  # depth 3: the table serves a few rows
    assert np.array_equal(table(x), _stages(gbr, x))
    batch = fast.predict_rows(rows)  # predict_stages: more than the table's rows
    step = table.max_rows
    assert len(rows) > step
    few = np.concatenate([fast.predict_rows(rows[i : i + step]) for i in range(0, len(rows), step)])
    assert np.array_equal(few, batch)
    assert np.array_equal(fast.predict_rows(rows[:1]), batch[:1])
