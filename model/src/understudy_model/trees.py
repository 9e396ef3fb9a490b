"""A gradient-boosted regressor's trees answered for a few rows at once, in numpy.

scikit-learn's ``predict_stages`` walks the trees one after the other; per tree it pays a
few hundred nanoseconds of Python-level access before its C loop runs. For one row of the
Ames v2 model (300 trees of depth 3) that is ~65 µs, the largest single cost of a
single-record request. Two ways to do it for all trees together:

* :class:`TreeWalk`, one numpy step per tree level (any depth): ~28 µs for one row, but it
  grows with the rows: past a handful ``predict_stages`` is faster (measured: 1 row 28 vs
  66 µs, 8 rows 76 vs 72 µs, 100 rows 884 vs 167 µs), so it serves up to
  :data:`WALK_MAX_ROWS` rows;
* :class:`TreeTable`, for trees of at most :data:`TABLE_MAX_SPLITS` splits (depth 3 or
  less, scikit-learn's default): every split compared at once, and a table gives each
  tree's leaf; fewer numpy steps, so faster still, up to :data:`TABLE_MAX_ROWS` rows.

:func:`few_rows_walker` picks. Both answer bit for bit what ``predict_stages`` does: the
same float32 features compared with the same float64 thresholds (``<=`` goes left, so NaN
goes right), and the trees' scaled values added to the baseline one tree after the other,
in the same order (``np.cumsum`` adds sequentially). tests/model/test_trees.py holds them
equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

# Up to this many rows the walk here is faster than predict_stages (see above).
WALK_MAX_ROWS = 4


class TreeWalk:
    """``baseline + sum(learning_rate * tree(x))`` over the fitted trees, for a few rows."""

    max_rows = WALK_MAX_ROWS

    def __init__(self, trees: Sequence[Any], *, learning_rate: float, baseline: float) -> None:
        n_trees = len(trees)
        width = max(tree.node_count for tree in trees)
        feature = np.zeros((n_trees, width), dtype=np.intp)
        threshold = np.zeros((n_trees, width), dtype=np.float64)
        left = np.zeros((n_trees, width), dtype=np.intp)
        right = np.zeros((n_trees, width), dtype=np.intp)
        value = np.zeros((n_trees, width), dtype=np.float64)
        for t, tree in enumerate(trees):
            n = tree.node_count
            nodes = np.arange(n)
            leaf = tree.children_left[:n] == -1
            # A leaf points at itself, so every row takes max_depth steps and stays put.
            feature[t, :n] = np.where(leaf, 0, tree.feature[:n])
            threshold[t, :n] = np.where(leaf, np.inf, tree.threshold[:n])
            left[t, :n] = np.where(leaf, nodes, tree.children_left[:n]) + t * width
            right[t, :n] = np.where(leaf, nodes, tree.children_right[:n]) + t * width
            value[t, :n] = learning_rate * tree.value[:n, 0, 0]  # predict_stages' scale * value
        # Flat, so that one fancy index per level reaches every tree's current node.
        self._feature = feature.ravel()
        self._threshold = threshold.ravel()
        self._left = left.ravel()
        self._right = right.ravel()
        self._value = value.ravel()
        self._roots = np.arange(n_trees, dtype=np.intp) * width
        self._depth = max(tree.max_depth for tree in trees)
        self._baseline = baseline
        self.n_trees = n_trees

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Raw predictions for the rows of ``x`` (features in the trees' order)."""
        n_rows, n_features = x.shape
        # predict_stages compares float32 features with float64 thresholds.
        features = np.ascontiguousarray(x, dtype=np.float32).astype(np.float64).ravel()
        row_start = (np.arange(n_rows, dtype=np.intp) * n_features)[:, None]
        node = np.broadcast_to(self._roots, (n_rows, self.n_trees))
        for _ in range(self._depth):
            goes_left = features[row_start + self._feature[node]] <= self._threshold[node]
            node = np.where(goes_left, self._left[node], self._right[node])
        terms = np.empty((n_rows, self.n_trees + 1), dtype=np.float64)
        terms[:, 0] = self._baseline
        terms[:, 1:] = self._value[node]
        return np.cumsum(terms, axis=1)[:, -1]


# Trees with at most this many split nodes are answered from a table (TreeTable); one
# byte of comparison results per tree indexes it.
TABLE_MAX_SPLITS = 8
# Up to this many rows TreeTable is faster than predict_stages (see TreeTable).
TABLE_MAX_ROWS = 8
# Packs the lowest bit of each of a uint64's eight bytes into its top byte: eight 0/1
# bytes (one tree's comparison results) become one number below 256.
_PACK = np.uint64(0x8040201008040201)
_TOP_BYTE = np.uint64(56)


def _splits(tree: Any) -> np.ndarray:
    """The tree's split nodes (every node that is not a leaf), in node order."""
    return np.flatnonzero(tree.children_left[: tree.node_count] != -1)


def _pack(bits: np.ndarray) -> np.ndarray:
    """Rows of 8·k booleans (C-contiguous) -> k codes below 256 per row."""
    return ((bits.view(np.uint64) * _PACK) >> _TOP_BYTE).view(np.int64)


class TreeTable:
    """The same sum for shallow trees (at most 8 splits each: every tree of depth 3), with
    fewer numpy steps than the level walk: every split of every tree is compared in one
    step, each tree's 8 results packed into a byte, and that byte looks up the leaf the
    row reaches in a table built once (256 entries per tree: ~600 KB for 300 trees). For
    one row of the Ames v2 model: ~22 µs against the walk's ~32 and predict_stages' ~88 µs;
    8 rows 70 µs against predict_stages' ~110, 16 rows 111 against 82 (2026-12-03, a
    tight loop; inside a request every numpy step costs 2–3× that, so fewer steps count
    more there). Bit for bit predict_stages' answer, like TreeWalk."""

    max_rows = TABLE_MAX_ROWS

    def __init__(self, trees: Sequence[Any], *, learning_rate: float, baseline: float) -> None:
        n_trees = len(trees)
        feature = np.zeros((n_trees, TABLE_MAX_SPLITS), dtype=np.intp)
        # An unused slot compares against +inf: its bit is ignored by the table anyway.
        threshold = np.full((n_trees, TABLE_MAX_SPLITS), np.inf, dtype=np.float64)
        patterns = (np.arange(256)[:, None] >> np.arange(TABLE_MAX_SPLITS)) & 1
        codes = _pack(np.ascontiguousarray(patterns, dtype=np.bool_)).ravel()
        if len(set(codes.tolist())) != 256:  # the packing relies on the byte order
            raise ValueError("cannot pack comparison results on this platform")
        table = np.zeros((n_trees, 256), dtype=np.float64)
        every = np.arange(256)
        for t, tree in enumerate(trees):
            n = tree.node_count
            left, right = tree.children_left[:n], tree.children_right[:n]
            splits = _splits(tree)
            if len(splits) > TABLE_MAX_SPLITS:
                raise ValueError(f"tree {t} has {len(splits)} splits (> {TABLE_MAX_SPLITS})")
            slot = np.zeros(n, dtype=np.intp)  # a split's place among the tree's 8 bits
            slot[splits] = np.arange(len(splits))
            feature[t, : len(splits)] = tree.feature[splits]
            threshold[t, : len(splits)] = tree.threshold[splits]
            # All 256 answer patterns followed from the root together, one level a step; a
            # leaf stays put.
            node = np.zeros(256, dtype=np.intp)
            for _ in range(tree.max_depth):
                goes_left = patterns[every, slot[node]] == 1
                step = np.where(goes_left, left[node], right[node])
                node = np.where(left[node] == -1, node, step)
            table[t, codes] = learning_rate * tree.value[node, 0, 0]
        # The baseline sits after the trees' cells, so one gather yields the whole sum's terms.
        self._cells = np.append(table.ravel(), baseline)
        self._feature = feature.ravel()
        self._threshold = threshold.ravel()
        self._offsets = np.arange(n_trees, dtype=np.int64) * 256
        self.n_trees = n_trees

    @staticmethod
    def fits(trees: Sequence[Any]) -> bool:
        return all(len(_splits(tree)) <= TABLE_MAX_SPLITS for tree in trees)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        n_rows = x.shape[0]
        features = np.asarray(x, dtype=np.float32).astype(np.float64)  # as predict_stages
        goes_left = features.take(self._feature, axis=1) <= self._threshold
        cells = np.empty((n_rows, self.n_trees + 1), dtype=np.int64)  # the baseline's, each leaf's
        cells[:, 0] = len(self._cells) - 1
        np.add(_pack(goes_left), self._offsets, out=cells[:, 1:])
        # cumsum adds one term after the other, in predict_stages' order.
        return np.cumsum(self._cells[cells], axis=1)[:, -1]


def few_rows_walker(
    trees: Sequence[Any], *, learning_rate: float, baseline: float
) -> TreeTable | TreeWalk:
    """The faster of the two for a few rows: the table when every tree fits it."""
    kind = TreeTable if TreeTable.fits(trees) else TreeWalk
    return kind(trees, learning_rate=learning_rate, baseline=baseline)
