"""understudy_common.slicing: the one rule for a slice field's name (router and operator)."""

from __future__ import annotations

import pytest

from understudy_common.slicing import slice_field_problem


@pytest.mark.parametrize("name", ["Neighborhood", "Lot_Area", "a.b-c_9", "x" * 64, "9"])
def test_good_names(name: str) -> None:
    assert slice_field_problem(name) is None


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "must be 1-64 letters, digits, '_', '.' or '-' (a record field name), got ''"),
        ("x" * 65, "must be 1-64 letters"),
        ("Sale Type", "got 'Sale Type'"),
        ("Région", "got 'Région'"),
        ("a/b", "must be 1-64"),
        ("a\n", "must be 1-64"),
        ("all", "'all' is a slice the router always exports (slice_by='all')"),
        ("prediction", "name a record field other than all or prediction"),
    ],
)
def test_bad_names_say_why(name: str, problem: str) -> None:
    found = slice_field_problem(name)
    assert found is not None and problem in found
